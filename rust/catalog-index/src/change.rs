//! A change set's rows: binary COPY of [`CHANGE_COLUMNS`], in `ORDER BY title, id`, each
//! with the id of the live movie right before it in that order (NULL: it is first).

use crate::builder::COLUMNS;
use crate::copy::{CopyError, Reader};
use crate::delta::Entry;
use crate::error::Error;
use xxhash_rust::xxh3::xxh3_64;

/// The index's columns and `after_id`, the movie's predecessor.
pub const CHANGE_COLUMNS: [&str; 8] =
    [COLUMNS[0], COLUMNS[1], COLUMNS[2], COLUMNS[3], COLUMNS[4], COLUMNS[5], COLUMNS[6], "after_id"];

pub struct Change {
    pub entry: Entry,
    pub after: Option<i64>,
}

/// Every row of a whole COPY (header to trailer); no bytes at all is no rows.
pub fn read(data: &[u8]) -> Result<Vec<Change>, Error> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let mut r = Reader::new(data);
    let mut rows = Vec::new();
    let why = |rows: &Vec<Change>, e: CopyError| match e {
        CopyError::Incomplete => Error::Copy("the change rows end before their trailer".into()),
        CopyError::Invalid(why) => Error::Copy(format!("change row {}: {why}", rows.len() + 1)),
    };
    r.header().map_err(|e| why(&rows, e))?;
    loop {
        match row(&mut r) {
            Ok(Some(change)) => rows.push(change),
            Ok(None) => break,
            Err(e) => return Err(why(&rows, e)),
        }
    }
    if r.pos != data.len() {
        return Err(Error::Copy("data after the change rows' trailer".into()));
    }
    Ok(rows)
}

fn row(r: &mut Reader<'_>) -> Result<Option<Change>, CopyError> {
    let fields = r.i16()?;
    if fields == -1 {
        return Ok(None);
    }
    if usize::try_from(fields).ok() != Some(CHANGE_COLUMNS.len()) {
        return Err(crate::copy::invalid(&format!("{fields} columns, not the {}", CHANGE_COLUMNS.len())));
    }
    let id = r.int8("id")?;
    let title = r.text("title_search")?;
    if title.contains('\0') {
        return Err(crate::copy::invalid("a title holds a NUL character"));
    }
    let hash = xxh3_64(r.bytes("title")?);
    let year = r.int4("year")?;
    let provider = r.text("provider")?;
    let genres = sorted(r.text_array("genres")?);
    let cast = sorted(r.text_array("cast")?);
    let after = match r.field()? {
        None => None,
        Some(b) => Some(
            b.try_into()
                .map(i64::from_be_bytes)
                .map_err(|_| crate::copy::invalid("after_id is not an int8"))?,
        ),
    };
    let entry = Entry::new(id, hash, year, title, provider, &genres, &cast)
        .ok_or_else(|| crate::copy::invalid("a name holds a NUL character, or there are too many"))?;
    Ok(Some(Change { entry, after }))
}

/// Each name once, in order.
fn sorted(mut names: Vec<&str>) -> Vec<&str> {
    names.sort_unstable();
    names.dedup();
    names
}
