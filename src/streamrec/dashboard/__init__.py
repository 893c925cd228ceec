"""The dashboard: static pages served at /dashboard, drawn in the browser from the API's JSON."""
