package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/model"
)

// activityPageSize is how many entries one page of the activity log shows.
const activityPageSize = 50

// activityScanPages bounds how many pages of the log one filtered page
// reads while looking for matching entries.
const activityScanPages = 20

// activityData is what the activity page shows.
type activityData struct {
	Rows    []activityRow
	Admin   bool
	Filter  string // the user filter (administrators)
	Action  string // the action filter, a prefix from actionFilters
	Actions []option
	Older   string // URL of the next, older page; "" on the last
	CSV     string // URL of the CSV export of the same selection
}

// activityRow is one entry as the page shows it.
type activityRow struct {
	model.Activity
	Name    string // the readable action
	When    string // UTC, to the second
	Ago     string // relative to now
	By      string
	Address string
}

// activityShow shows the audit log as the user may see it: their own
// entries, or everybody's for an administrator, who may filter by user.
// Anyone may filter by kind of action.
func (h *Handler) activityShow(c *gin.Context) {
	p, _ := currentUser(c)
	filter := ""
	if p.Admin() {
		filter = strings.TrimSpace(c.Query("user"))
	}
	action := c.Query("action")
	if !validActionFilter(action) {
		action = ""
	}
	before, err := strconv.ParseUint(c.DefaultQuery("before", "0"), 10, 64)
	if err != nil {
		h.errorPage(c, http.StatusBadRequest, "Bad page", "That page of the activity log does not exist. Start again from the activity page.")
		return
	}
	rows, before, more, err := h.activityRows(p, filter, action, before)
	if err != nil {
		h.fail(c, err)
		return
	}
	d := activityData{Rows: rows, Admin: p.Admin(), Filter: filter, Action: action, Actions: actionFilters, CSV: "/activity.csv"}
	q := url.Values{}
	if filter != "" {
		q.Set("user", filter)
		d.CSV += "?" + q.Encode()
	}
	if action != "" {
		q.Set("action", action)
	}
	if more {
		q.Set("before", strconv.FormatUint(before, 10))
		d.Older = "/activity?" + q.Encode()
	}
	h.render(c, http.StatusOK, "activity", "Activity", "activity", d)
}

func newActivityRow(a model.Activity, now time.Time) activityRow {
	r := activityRow{Activity: a, Name: actionName(a), When: a.Time.UTC().Format("2006-01-02 15:04:05 UTC"),
		Ago: ago(a.Time, now), By: a.Actor, Address: clientAddress(a.ClientIP)}
	if r.By == "" && r.Address == "admin CLI" {
		r.By = "admin CLI"
	}
	return r
}

func validActionFilter(f string) bool {
	for _, o := range actionFilters {
		if o.Value == f {
			return true
		}
	}
	return false
}

// activityRows reads the log from before on (0: the newest) until a page
// of entries that match action is full, or activityScanPages pages were
// read. It returns where the next page starts and whether there may be one.
func (h *Handler) activityRows(p account.Principal, user, action string, before uint64) ([]activityRow, uint64, bool, error) {
	var rows []activityRow
	now := time.Now()
	for range activityScanPages {
		entries, err := h.accounts.Activities(p, user, before, activityPageSize)
		if err != nil {
			return nil, 0, false, err
		}
		for _, a := range entries {
			before = a.ID
			if !matchesAction(a, action) {
				continue
			}
			if rows = append(rows, newActivityRow(a, now)); len(rows) == activityPageSize {
				return rows, before, true, nil
			}
		}
		if len(entries) < activityPageSize {
			return rows, before, false, nil
		}
	}
	return rows, before, true, nil
}
