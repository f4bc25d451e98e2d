package cli

import "github.com/portusproject/portus/server/config"

// configVerbs are the commands of `portus config`: they read no data
// directory and reach no server.
var configVerbs = []command{
	{name: "reference", summary: "print every setting (flag, environment variable, file key, default, meaning) as Markdown: docs/configuration.md",
		main: runConfigReference},
}

func runConfigReference(env Env, args []string) error {
	fs := newFlags(env, "config reference", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	return config.Reference(env.Stdout)
}
