//! A many-valued column (genres, cast; a provider is a column of one value per movie): each
//! distinct value's movies as ascending ranks, and each movie's values, both as flat arrays.

use std::collections::HashMap;

#[derive(Default)]
pub struct Values {
    ids: HashMap<String, u32>,
    /// The ranks of the movies carrying each value, ascending.
    movies: Vec<Vec<u32>>,
    /// Each movie's value ids: `of_movie[starts[rank]..starts[rank + 1]]`.
    starts: Vec<u32>,
    of_movie: Vec<u32>,
}

impl Values {
    pub fn new() -> Self {
        Values { starts: vec![0], ..Values::default() }
    }

    /// Record the values of the next movie (ranks are pushed in order from 0).
    pub fn push(&mut self, rank: u32, names: &[&str]) {
        let first = self.of_movie.len();
        for name in names {
            let id = if let Some(&id) = self.ids.get(*name) {
                id
            } else {
                let id = self.movies.len() as u32;
                self.ids.insert((*name).to_owned(), id);
                self.movies.push(Vec::new());
                id
            };
            if self.of_movie[first..].contains(&id) {
                continue; // a value repeated within one movie counts once
            }
            self.of_movie.push(id);
            self.movies[id as usize].push(rank);
        }
        self.starts.push(self.of_movie.len() as u32);
    }

    pub fn id(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    pub fn movies(&self, id: u32) -> &[u32] {
        &self.movies[id as usize]
    }

    pub fn has(&self, rank: u32, id: u32) -> bool {
        let r = rank as usize;
        self.of_movie[self.starts[r] as usize..self.starts[r + 1] as usize].contains(&id)
    }

    pub fn shrink(&mut self) {
        self.movies.iter_mut().for_each(Vec::shrink_to_fit);
        self.movies.shrink_to_fit();
        self.of_movie.shrink_to_fit();
        self.starts.shrink_to_fit();
    }

    pub fn heap_bytes(&self) -> usize {
        let names: usize = self.ids.keys().map(|k| k.capacity() + 32).sum();
        let lists: usize = self.movies.iter().map(|m| m.capacity() * 4 + 24).sum();
        names + lists + (self.starts.capacity() + self.of_movie.capacity()) * 4
    }
}
