"""The admin dashboard (/admin) and the charging web app (/app): server-rendered shells and their assets."""
