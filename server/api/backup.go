package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// BackupStatusTrailer is the HTTP trailer that says whether a backup stream
// is complete: "ok", or the reason it is not. The status line is sent
// before the copy starts, so a failure can only be told at the end.
const BackupStatusTrailer = "Portus-Backup-Status"

// backup streams a consistent copy of the database while the server keeps
// serving (bbolt's read transaction sees one snapshot).
func (h *Handler) backup(c *gin.Context) {
	c.Header("Content-Type", "application/octet-stream")
	c.Header("Trailer", BackupStatusTrailer)
	c.Status(http.StatusOK)
	n, err := h.Backup(c.Writer)
	if err != nil {
		h.Log.Error("backup failed", "bytes", n, "err", err)
		c.Writer.Header().Set(BackupStatusTrailer, "failed: see the server log")
		return
	}
	c.Writer.Header().Set(BackupStatusTrailer, "ok")
}
