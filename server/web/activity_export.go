package web

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
)

// exportPage is how many entries activityExport reads at a time, and
// exportMax the most it writes.
const (
	exportPage = 500
	exportMax  = 200_000
)

// activityExport sends the activity the user may see (all of it, or one
// user's for an administrator's filter) as a CSV file.
func (h *Handler) activityExport(c *gin.Context) {
	p, _ := currentUser(c)
	filter := ""
	if p.Admin() {
		filter = strings.TrimSpace(c.Query("user"))
	}
	page, err := h.accounts.Activities(p, filter, 0, exportPage)
	if err != nil {
		h.fail(c, err)
		return
	}
	name := "portus-activity"
	if who := filter; who != "" || !p.Admin() {
		if who == "" {
			who = p.Name()
		}
		if account.ValidateUsername(who) == nil {
			name += "-" + who
		}
	}
	name += "-" + time.Now().UTC().Format("20060102") + ".csv"
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, name))
	c.Status(http.StatusOK)

	w := csv.NewWriter(c.Writer)
	w.Write([]string{"id", "time", "action", "actor", "subject", "token_name", "client_ip", "detail"})
	written := 0
	for len(page) > 0 && written < exportMax {
		for _, a := range page {
			w.Write([]string{
				strconv.FormatUint(a.ID, 10), a.Time.UTC().Format(time.RFC3339),
				cell(a.Action), cell(a.Actor), cell(a.Subject), cell(a.TokenName), cell(clientAddress(a.ClientIP)), cell(a.Detail),
			})
		}
		written += len(page)
		if len(page) < exportPage {
			break
		}
		if page, err = h.accounts.Activities(p, filter, page[len(page)-1].ID, exportPage); err != nil {
			// The header is sent: all that is left is to stop and log.
			h.log.Error("activity export cut short", "err", err)
			break
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		h.log.Warn("writing the activity export", "err", err)
	}
}

// cell defuses a value that a spreadsheet would run as a formula (it
// starts with =, +, -, @, a tab or a carriage return) by prefixing a
// single quote. encoding/csv does the quoting of commas, quotes and line
// breaks.
func cell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
