"""The `tearline` command line: thin edges over the services."""
