package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/shared/apitypes"
)

// listActivities answers GET /api/v1/activities?user=&before=&limit=,
// newest first. Users see their own entries; administrators everyone's.
func (h *Handler) listActivities(c *gin.Context) {
	before, err := strconv.ParseUint(c.DefaultQuery("before", "0"), 10, 64)
	if err != nil {
		abort(c, http.StatusBadRequest, "before: must be an activity id (a whole number)")
		return
	}
	limit, err := strconv.Atoi(c.DefaultQuery("limit", "50"))
	if err != nil || limit < 1 || limit > 500 {
		abort(c, http.StatusBadRequest, "limit: must be a whole number from 1 to 500")
		return
	}
	list, err := h.Accounts.Activities(principal(c), c.Query("user"), before, limit)
	if err != nil {
		h.fail(c, err)
		return
	}
	page := apitypes.ActivityPage{Activities: make([]apitypes.Activity, 0, len(list))}
	for _, a := range list {
		page.Activities = append(page.Activities, account.WireActivity(a))
	}
	if len(list) == limit {
		page.Next = list[len(list)-1].ID
	}
	c.JSON(http.StatusOK, page)
}
