"""The server's tools, by area: media, agent, publish, jobs, projects."""
