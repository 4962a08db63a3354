-- Which channel a change came through: 'mcp' for the MCP server (src/mcp/), NULL for the HTTP API
-- and system actors (issue 23). Additive: existing events keep NULL.
ALTER TABLE audit_events ADD COLUMN via TEXT;
