//! A timestamp column read for a response, decoded cheaply on SQLite.
//!
//! SQLite keeps timestamps as text, and sqlx decodes each by trying RFC 3339, then a zoned and a
//! naive format, each compiled from its format string on every call: on the members page (four
//! timestamps a row) the largest cost of the service's own code. Every timestamp this service
//! writes is in the one format sqlx encodes (`%F %T%.f`), so it is parsed in that format, compiled
//! once; anything else, and every other database, goes through sqlx's own decoder.

use std::sync::LazyLock;

use chrono::NaiveDateTime;
use chrono::format::{Item, Parsed, StrftimeItems};
use sea_orm::sqlx::Row;
use sea_orm::{ColIdx, QueryResult, TryGetError, TryGetable};

/// A naive UTC instant, like every timestamp column here (see the migration's `column.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp(pub NaiveDateTime);

impl From<Timestamp> for NaiveDateTime {
    fn from(timestamp: Timestamp) -> NaiveDateTime {
        timestamp.0
    }
}

/// The format sqlx writes a `NaiveDateTime` to SQLite in.
static SQLX_SQLITE_FORMAT: LazyLock<Vec<Item<'static>>> = LazyLock::new(|| {
    StrftimeItems::new("%F %T%.f")
        .parse_to_owned()
        .expect("a valid format")
});

fn parse_sqlx_sqlite_text(text: &str) -> Option<NaiveDateTime> {
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, text, SQLX_SQLITE_FORMAT.iter()).ok()?;
    parsed.to_naive_datetime_with_offset(0).ok()
}

impl TryGetable for Timestamp {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        if let Some(row) = res.try_as_sqlite_row()
            && let Ok(text) = row.try_get::<Option<&str>, _>(index.as_sqlx_sqlite_index())
        {
            match text.map(parse_sqlx_sqlite_text) {
                Some(Some(instant)) => return Ok(Timestamp(instant)),
                None => return Err(TryGetError::Null(format!("{index:?}"))),
                Some(None) => {}
            }
        }
        NaiveDateTime::try_get_by(res, index).map(Timestamp)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, Timelike};

    use super::*;

    #[test]
    fn reads_what_sqlx_writes_to_sqlite() {
        let instant = NaiveDate::from_ymd_opt(2026, 11, 30)
            .and_then(|day| day.and_hms_micro_opt(1, 2, 3, 456_789))
            .expect("a valid instant");
        // sqlx-sqlite's encoding of a NaiveDateTime.
        let written = instant.format("%F %T%.f").to_string();
        assert_eq!(parse_sqlx_sqlite_text(&written), Some(instant));
        let whole_second = instant.with_nanosecond(0).expect("valid");
        assert_eq!(
            parse_sqlx_sqlite_text(&whole_second.format("%F %T%.f").to_string()),
            Some(whole_second)
        );
        // Other shapes are left to sqlx's decoder.
        assert_eq!(parse_sqlx_sqlite_text("2026-11-30T01:02:03Z"), None);
        assert_eq!(parse_sqlx_sqlite_text("not a time"), None);
    }

    /// Through a real SQLite row: the same instant as sqlx's decoder, NULL as `None`, and a shape
    /// this service never writes still read (by sqlx).
    #[tokio::test]
    async fn decodes_sqlite_rows_as_sqlx_does() {
        use sea_orm::{ConnectionTrait, Database, DbBackend, Statement, Value};
        let db = Database::connect("sqlite::memory:").await.expect("SQLite");
        db.execute_unprepared("CREATE TABLE t (n INTEGER, at TIMESTAMP)")
            .await
            .expect("table");
        let instant = NaiveDate::from_ymd_opt(2026, 11, 30)
            .and_then(|day| day.and_hms_micro_opt(1, 2, 3, 456_789))
            .expect("a valid instant");
        for (n, value) in [
            (1, Value::from(instant)),
            (2, Value::from(instant.with_nanosecond(0).expect("valid"))),
            (3, Value::from(None::<NaiveDateTime>)),
            (4, Value::from("2026-11-30T01:02:03Z")),
        ] {
            db.execute_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "INSERT INTO t VALUES (?, ?)",
                [Value::from(n), value],
            ))
            .await
            .expect("insert");
        }
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT at FROM t ORDER BY n",
            ))
            .await
            .expect("select");
        for row in &rows {
            let ours: Option<Timestamp> = row.try_get_by("at").expect("ours");
            let sqlx: Option<NaiveDateTime> = row.try_get_by("at").expect("sqlx");
            assert_eq!(ours.map(NaiveDateTime::from), sqlx);
        }
        let read: Vec<Option<Timestamp>> = rows
            .iter()
            .map(|row| row.try_get_by("at").expect("read"))
            .collect();
        assert_eq!(read[0], Some(Timestamp(instant)));
        assert_eq!(read[2], None);
        assert!(read[3].is_some(), "an RFC 3339 value is read too");
    }
}
