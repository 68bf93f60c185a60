"""What the worker and the API share about the catalog: the movie document and the cache keys."""
