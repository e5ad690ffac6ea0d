//! Reading one page of a list.

use sea_orm::{ConnectionTrait, DbErr, Selector, SelectorTrait, Statement};

use crate::domain::page::PageRequest;

/// The rows `page` asks for of `selector`, which is sorted and has no LIMIT of its own.
///
/// The page's LIMIT and OFFSET are written into the SQL as numbers instead of bound as
/// parameters. PostgreSQL plans a LIMIT it cannot see as if a tenth of the rows were wanted,
/// so a statement's cached generic plan never looked cheaper than planning again, and every
/// page was planned anew: 0.29 ms of planning for 0.12 ms of execution on the members page
/// (BENCHMARKS.md, session 15). With the numbers in the text, each page size and offset is a
/// statement of its own, whose plan PostgreSQL keeps after its first few executions; sqlx keeps
/// the 100 most recently used statements per connection, so paging far costs a statement
/// prepared once, never an unbounded cache.
pub async fn read_page<S: SelectorTrait>(
    db: &impl ConnectionTrait,
    selector: Selector<S>,
    page: PageRequest,
) -> Result<Vec<S::Item>, DbErr> {
    let statement = selector.into_statement(db.get_database_backend());
    read_statement_page::<S>(db, statement, page).await
}

/// `read_page` for a query a `Selector` cannot hold (one with a WITH clause), decoded as `S`.
pub async fn read_statement_page<S: SelectorTrait>(
    db: &impl ConnectionTrait,
    mut statement: Statement,
    page: PageRequest,
) -> Result<Vec<S::Item>, DbErr> {
    // Two integers, so nothing here can be read as SQL; every backend takes this form.
    statement.sql += &format!(" LIMIT {} OFFSET {}", page.page_size, page.offset());
    db.query_all_raw(statement)
        .await?
        .into_iter()
        .map(S::from_raw_query_result)
        .collect()
}
