//! Reading one page of a list.

use sea_orm::{ConnectionTrait, DbErr, Selector, SelectorTrait};

use crate::domain::page::PageRequest;

/// The rows `page` asks for of `selector`, which is sorted and has no LIMIT of its own.
///
/// The page's LIMIT and OFFSET are written into the SQL as numbers instead of bound as
/// parameters: PostgreSQL plans a LIMIT it cannot see as if a tenth of the rows were wanted, and
/// so planned every page anew instead of keeping the statement's plan.
pub async fn read_page<S: SelectorTrait>(
    db: &impl ConnectionTrait,
    selector: Selector<S>,
    page: PageRequest,
) -> Result<Vec<S::Item>, DbErr> {
    let mut statement = selector.into_statement(db.get_database_backend());
    // Two integers, so nothing here can be read as SQL; every backend takes this form.
    statement.sql += &format!(" LIMIT {} OFFSET {}", page.page_size, page.offset());
    db.query_all_raw(statement)
        .await?
        .into_iter()
        .map(S::from_raw_query_result)
        .collect()
}
