package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/portusproject/portus/server/model"
)

// activityPageSize is how many entries one page of the activity log shows.
const activityPageSize = 50

// activityData is what the activity page shows.
type activityData struct {
	Entries []model.Activity
	Admin   bool
	Filter  string // the user filter (administrators)
	Older   string // URL of the next, older page; "" on the last
	CSV     string // URL of the CSV export of the same selection
}

// activityShow shows the audit log as the user may see it: their own
// entries, or everybody's for an administrator, who may filter by user.
func (h *Handler) activityShow(c *gin.Context) {
	p, _ := currentUser(c)
	filter := ""
	if p.Admin() {
		filter = strings.TrimSpace(c.Query("user"))
	}
	before, err := strconv.ParseUint(c.DefaultQuery("before", "0"), 10, 64)
	if err != nil {
		h.errorPage(c, http.StatusBadRequest, "Bad page", "That page of the activity log does not exist. Start again from the activity page.")
		return
	}
	entries, err := h.accounts.Activities(p, filter, before, activityPageSize)
	if err != nil {
		h.fail(c, err)
		return
	}
	d := activityData{Entries: entries, Admin: p.Admin(), Filter: filter, CSV: "/activity.csv"}
	q := url.Values{}
	if filter != "" {
		q.Set("user", filter)
		d.CSV += "?" + q.Encode()
	}
	if len(entries) == activityPageSize {
		q.Set("before", strconv.FormatUint(entries[len(entries)-1].ID, 10))
		d.Older = "/activity?" + q.Encode()
	}
	h.render(c, http.StatusOK, "activity", "Activity", "activity", d)
}
