-- When a key last authenticated a request: set when an instance looks the key up in the
-- database (a cache miss), so it is exact to within the authentication cache TTL (5 s by
-- default). NULL: never used.
ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;
