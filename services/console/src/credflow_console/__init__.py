"""credflow console: the web application (a backend-for-frontend over the public APIs)."""
