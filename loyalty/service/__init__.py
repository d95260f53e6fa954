"""The service desk (API.md, Service): feedback, cases, notes, and what a till reads about a member
(overview, timeline). Plain functions with the actor passed in: the API and the web pages call
them alike. Nothing here commits or reads the request."""
