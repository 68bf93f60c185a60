-- Counting a genre within a year range (the API's `total`) reads only this index: the
-- alternative intersects the GIN entries of a frequent genre (86,000 of 300,000 for Drama).
CREATE INDEX movies_year_id_genres ON movies (year, id) INCLUDE (genres);
DROP INDEX movies_year_id;
