-- Every match of a genre within a year range, with its title (the key the API sorts a page
-- by), is read from this index alone: no heap page is visited to find and sort the matches.
CREATE INDEX movies_year_id_genres_title ON movies (year, id) INCLUDE (genres, title);
DROP INDEX movies_year_id_genres;

-- A title substring's matches are estimated by trying the pattern on the column's histogram:
-- with the default 100 entries, a substring matching 961 of 300,000 titles was estimated at
-- 5,709, and the planner filtered all 300,000 entries of the title index (125-350 ms) instead
-- of using the trigram index (3-7 ms). Measured over 400 title searches (benchmarks/bench_api.py
-- data): 250 entries kept every plan under 21 ms at 0.55 ms of planning (100: 0.35 ms, one
-- ANALYZE in two gave 150 ms plans; 1000: 1.6 ms of planning for no better plans).
ALTER TABLE movies ALTER COLUMN title SET STATISTICS 250;
ANALYZE movies;
