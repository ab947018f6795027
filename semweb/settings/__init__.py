"""Settings by environment: `base` reads everything from the environment; `local` (the
`make run` default), `test` and `production` adjust it."""
