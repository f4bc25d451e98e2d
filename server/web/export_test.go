package web

// Hooks for the tests of package web_test, which cannot be package web
// because they use internal/testserver, which imports this package.

// RouteInfo is one row of the route table.
type RouteInfo struct {
	Method, Path string
	// Public routes take the pre-session CSRF token; the others need a
	// session (Admin: of an administrator).
	Public, Admin bool
}

// RouteTable returns the route table of h.
func RouteTable(h *Handler) []RouteInfo {
	var out []RouteInfo
	for _, r := range h.routes() {
		if r.access == asset {
			continue
		}
		out = append(out, RouteInfo{Method: r.method, Path: r.path, Public: r.access == anyone, Admin: r.access == adminOnly})
	}
	return out
}

// ParseTemplates is parseTemplates.
var ParseTemplates = parseTemplates

// CSVCell is cell.
var CSVCell = cell
