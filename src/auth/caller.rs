//! The authenticated caller, extracted from `Authorization: Bearer <access JWT>`.
//!
//! The token says who is calling and in which organization; the user row is read on every request
//! so a deleted account stops at once. Roles are read by the services, never taken from the token.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use chrono::NaiveDateTime;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    Condition, DbBackend, DbErr, EntityTrait, FromQueryResult, JoinType, QueryResult, QuerySelect,
    QueryTrait, RelationTrait, SelectorRaw, Statement, Value,
};

use super::caller_reads::read_together;
use crate::entities::timestamp::parse_sqlx_sqlite_text;
use crate::entities::{membership, organization, user};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// A caller holding a valid access token for an existing user.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: user::Model,
    /// The organization the token acts in.
    pub organization_id: i32,
    /// The live membership in that organization, read with the user in the same query; `None`
    /// once removed. Read-only requests use it; transactions read the membership again.
    pub membership: Option<membership::Model>,
    /// That organization, read in the same query through the membership (so `None` without
    /// one): `GET /api/invite` then needs no second round trip.
    pub organization: Option<organization::Model>,
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        // Only reads' callers are read in batches: a write's caller, read alone, does not wait
        // behind a batch (role changes queued in turns lost a quarter of their rate to it).
        let in_batch = req.method().is_safe();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("state missing".into()))?;
            let token = token?;
            let access = state.jwt.verify_access(&token)?;
            let (user, membership, organization) =
                user_with_membership(&state, access.user_id, access.organization_id, in_batch)
                    .await?
                    .ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::TokenInvalid,
                            "The token's user no longer exists.",
                        )
                    })?;
            Ok(Caller {
                user,
                organization_id: access.organization_id,
                membership,
                organization,
            })
        })
    }
}

/// A user, their live membership in an organization, and that organization.
pub(super) type CallerRow = (
    user::Model,
    Option<membership::Model>,
    Option<organization::Model>,
);

/// The user, their live membership in `organization_id` and the organization, in one query (LEFT
/// JOINs whose condition names the organization, so a user without one still comes back). On
/// SQLite read on the worker's own thread when it can be (`inline_reads`), on PostgreSQL with
/// `in_batch` together with the worker's other such callers (`caller_reads`), else
/// through the pool.
async fn user_with_membership(
    state: &AppState,
    user_id: i32,
    organization_id: i32,
    in_batch: bool,
) -> Result<Option<CallerRow>, ApiError> {
    if let Some(inline) = &state.inline_reads {
        let sql = caller_sql(DbBackend::Sqlite);
        match inline.query_optional(sql, (organization_id, user_id), decode_inline) {
            Ok(row) => return Ok(row),
            Err(error) => log::debug!("the caller is read through the pool: {error}"),
        }
    }
    if let Some(caller_reads) = state.caller_reads.as_ref().filter(|_| in_batch) {
        let reads = state.reads.clone();
        let run = move |wanted| read_together(reads.clone(), wanted);
        return caller_reads
            .join((), (user_id, organization_id), run)
            .await
            .unwrap_or_else(|| Err(ApiError::Internal("a batch of caller reads failed".into())));
    }
    let statement = caller_statement(state.reads.get_database_backend(), user_id, organization_id);
    let row = SelectorRaw::<sea_orm::SelectModel<DecodedCaller>>::from_statement(statement)
        .one(&state.reads)
        .await?;
    Ok(row.map(|DecodedCaller(row)| row))
}

/// The caller query as sea-query writes it for `backend`: `find_also`'s columns, prefixed `A_`,
/// `B_`, `C_`.
fn written_caller_statement(backend: DbBackend, user_id: i32, organization_id: i32) -> Statement {
    let in_organization =
        user::Relation::Membership
            .def()
            .on_condition(move |_users, memberships| {
                Condition::all()
                    .add(
                        Expr::col((memberships.clone(), membership::Column::OrganizationId))
                            .eq(organization_id),
                    )
                    .add(Expr::col((memberships, membership::Column::DeletedAt)).is_null())
            });
    user::Entity::find_by_id(user_id)
        .join(JoinType::LeftJoin, in_organization)
        .select_also(membership::Entity)
        .find_also(membership::Entity, organization::Entity)
        .build(backend)
}

/// The caller query for `backend`, its SQL built once: every authenticated request runs it, and
/// building it (a join, its condition, three entities' columns) was about 6% of the time a
/// `GET /api/invite` took (BENCHMARKS.md, session 13). Only the two values change; they follow
/// the SQL's order, the join's condition before the `WHERE` (checked by a test).
fn caller_statement(backend: DbBackend, user_id: i32, organization_id: i32) -> Statement {
    Statement::from_sql_and_values(
        backend,
        caller_sql(backend),
        [Value::from(organization_id), Value::from(user_id)],
    )
}

/// The caller query's SQL for `backend`, written by sea-query on first use and kept.
pub(super) fn caller_sql(backend: DbBackend) -> &'static str {
    static SQL: [OnceLock<String>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = match backend {
        DbBackend::Postgres => 0,
        DbBackend::MySql => 1,
        _ => 2,
    };
    SQL[slot].get_or_init(|| written_caller_statement(backend, 0, 0).sql)
}

/// A caller row decoded as `find_also` decodes one (`SelectThreeModel`).
pub(super) struct DecodedCaller(pub(super) CallerRow);

impl FromQueryResult for DecodedCaller {
    fn from_query_result(row: &QueryResult, _prefix: &str) -> Result<Self, DbErr> {
        Ok(DecodedCaller((
            user::Model::from_query_result(row, "A_")?,
            membership::Model::from_query_result_optional(row, "B_")?,
            organization::Model::from_query_result_optional(row, "C_")?,
        )))
    }
}

/// A caller row read inline, decoded as [`DecodedCaller`] decodes one from sqlx: a membership or
/// organization whose key is NULL is absent. Timestamps are read in the one format this service
/// writes (`entities::timestamp`); a row with any other is declined, and the pool reads it.
fn decode_inline(row: &rusqlite::Row<'_>) -> rusqlite::Result<CallerRow> {
    let row = CallerColumns::of(row);
    let user = user::Model {
        id: row.get("A_id")?,
        email: row.get("A_email")?,
        email_normalized: row.get("A_email_normalized")?,
        username: row.get("A_username")?,
        first_name: row.get("A_first_name")?,
        last_name: row.get("A_last_name")?,
        password_hash: row.get("A_password_hash")?,
        active_organization_id: row.get("A_active_organization_id")?,
        date_joined: row.timestamp("A_date_joined")?,
        last_activity: row.optional_timestamp("A_last_activity")?,
    };
    let membership = row.joined("B_id", |id| {
        Ok(membership::Model {
            id,
            organization_id: row.get("B_organization_id")?,
            user_id: row.get("B_user_id")?,
            role: row.get("B_role")?,
            invited_by: row.get("B_invited_by")?,
            created_at: row.timestamp("B_created_at")?,
            updated_at: row.timestamp("B_updated_at")?,
            deleted_at: row.optional_timestamp("B_deleted_at")?,
        })
    })?;
    let organization = row.joined("C_id", |id| {
        Ok(organization::Model {
            id,
            title: row.get("C_title")?,
            invite_token: row.get("C_invite_token")?,
            created_by: row.get("C_created_by")?,
            created_at: row.timestamp("C_created_at")?,
        })
    })?;
    Ok((user, membership, organization))
}

/// A row of the caller statement, its columns found by name in places looked up once per
/// process (the statement's SQL is built once: `caller_sql`). rusqlite finds a column by
/// comparing its name with each column's in turn, each read through SQLite's mutex: for the 23
/// columns, about 6% of the service's CPU on `GET /api/invite` (BENCHMARKS.md, session 18).
struct CallerColumns<'a, 'r> {
    row: &'a rusqlite::Row<'r>,
    places: &'static HashMap<String, usize>,
}

impl<'a, 'r> CallerColumns<'a, 'r> {
    fn of(row: &'a rusqlite::Row<'r>) -> Self {
        static PLACES: OnceLock<HashMap<String, usize>> = OnceLock::new();
        let places = PLACES.get_or_init(|| {
            let names = row.as_ref().column_names();
            names
                .into_iter()
                .enumerate()
                .map(|(place, name)| (name.to_owned(), place))
                .collect()
        });
        CallerColumns { row, places }
    }

    fn place(&self, column: &str) -> rusqlite::Result<usize> {
        self.places
            .get(column)
            .copied()
            .ok_or_else(|| rusqlite::Error::InvalidColumnName(column.to_owned()))
    }

    fn get<T: rusqlite::types::FromSql>(&self, column: &str) -> rusqlite::Result<T> {
        self.row.get(self.place(column)?)
    }

    /// A LEFT JOIN's model, decoded from its key up; `None` when the join found no row (a NULL
    /// key).
    fn joined<T>(
        &self,
        key: &str,
        decode: impl FnOnce(i32) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Option<T>> {
        self.get::<Option<i32>>(key)?.map(decode).transpose()
    }

    fn timestamp(&self, column: &str) -> rusqlite::Result<NaiveDateTime> {
        timestamp(self.row, self.place(column)?)
    }

    fn optional_timestamp(&self, column: &str) -> rusqlite::Result<Option<NaiveDateTime>> {
        optional_timestamp(self.row, self.place(column)?)
    }
}

fn timestamp(row: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<NaiveDateTime> {
    optional_timestamp(row, column)?.ok_or_else(|| not_decoded(column, "NULL"))
}

/// A timestamp in another format than this service's is not decoded here: the pool reads it.
fn optional_timestamp(
    row: &rusqlite::Row<'_>,
    column: usize,
) -> rusqlite::Result<Option<NaiveDateTime>> {
    let Some(text) = row.get_ref(column)?.as_str_or_null()? else {
        return Ok(None);
    };
    parse_sqlx_sqlite_text(text)
        .map(Some)
        .ok_or_else(|| not_decoded(column, "not in this service's timestamp format"))
}

fn not_decoded(column: usize, why: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Text,
        why.to_owned().into(),
    )
}

fn bearer_token(req: &HttpRequest) -> Result<String, ApiError> {
    let missing = || {
        ApiError::new(
            ErrorCode::AuthenticationRequired,
            "Send an access token as `Authorization: Bearer <token>`.",
        )
    };
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(missing)?
        .to_str()
        .map_err(|_| missing())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(missing());
    }
    Ok(token.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inline_reads::InlineReader;

    #[test]
    fn the_built_caller_query_is_the_one_sea_query_writes_with_its_values_in_order() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres, DbBackend::MySql] {
            let written = written_caller_statement(backend, 7, 9);
            let cached = caller_statement(backend, 7, 9);
            assert_eq!(cached.sql, written.sql, "{backend:?}");
            assert_eq!(cached.values, written.values, "{backend:?}");
        }
    }

    /// The same rows read inline and through sqlx decode alike: a live membership, a removed
    /// one, none, NULL and set optional columns, fractional and whole seconds.
    #[tokio::test]
    async fn a_caller_read_inline_is_the_caller_sqlx_reads() {
        use chrono::NaiveDate;
        use sea_orm::{ActiveModelTrait, IntoActiveModel};

        let dir = tempfile::tempdir().expect("a directory");
        let file = dir.path().join("t.db");
        let settings = crate::settings::Settings {
            database_url: format!("sqlite://{}?mode=rwc", file.display()),
            ..Default::default()
        };
        let db = crate::db::connect(&settings).await.expect("SQLite");
        crate::db::migrate(&db).await.expect("migrated");
        let at = |micro| {
            NaiveDate::from_ymd_opt(2026, 12, 1)
                .and_then(|day| day.and_hms_micro_opt(1, 2, 3, micro))
                .expect("a valid instant")
        };
        for organization in [1, 2] {
            organization::Model {
                id: organization,
                title: format!("Org {organization}"),
                invite_token: format!("token-{organization}"),
                created_by: (organization == 1).then_some(1),
                created_at: at(0),
            }
            .into_active_model()
            .insert(&db)
            .await
            .expect("organization");
        }
        for (id, last_activity) in [(1, Some(at(456_789))), (2, None), (3, None)] {
            user::Model {
                id,
                email: format!("u{id}@example.org"),
                email_normalized: format!("u{id}@example.org"),
                username: format!("u{id}"),
                first_name: "First".into(),
                last_name: String::new(),
                password_hash: "hash".into(),
                active_organization_id: (id != 3).then_some(1),
                date_joined: at(123_000),
                last_activity,
            }
            .into_active_model()
            .insert(&db)
            .await
            .expect("user");
        }
        let memberships = [
            (1, 1, 1, Some(2), None),
            (2, 1, 2, None, None),
            (3, 2, 2, Some(1), Some(at(7))),
        ];
        for (id, organization_id, user_id, invited_by, deleted_at) in memberships {
            membership::Model {
                id,
                organization_id,
                user_id,
                role: "AD".into(),
                invited_by,
                created_at: at(1),
                updated_at: at(999_999),
                deleted_at,
            }
            .into_active_model()
            .insert(&db)
            .await
            .expect("membership");
        }

        let inline = InlineReader::open(&file).expect("a file-backed database");
        let mut compared = 0;
        for user_id in [1, 2, 3, 4] {
            for organization_id in [1, 2, 3] {
                let statement = caller_statement(DbBackend::Sqlite, user_id, organization_id);
                let by_sqlx = SelectorRaw::<sea_orm::SelectModel<DecodedCaller>>::from_statement(
                    statement.clone(),
                )
                .one(&db)
                .await
                .expect("read through sqlx")
                .map(|DecodedCaller(row)| row);
                let by_inline = inline
                    .query_optional(
                        caller_sql(DbBackend::Sqlite),
                        (organization_id, user_id),
                        decode_inline,
                    )
                    .expect("read inline");
                assert_eq!(
                    by_inline, by_sqlx,
                    "user {user_id} in organization {organization_id}"
                );
                compared += usize::from(by_inline.is_some_and(|(_, m, _)| m.is_some()));
            }
        }
        assert_eq!(compared, 2, "two live memberships among the pairs");
    }

    /// A timestamp in a format this service does not write is left to sqlx: the inline read
    /// declines it rather than guessing.
    #[test]
    fn a_timestamp_in_another_format_is_declined_inline() {
        let connection = rusqlite::Connection::open_in_memory().expect("SQLite");
        let declined = connection.query_row("SELECT '2026-12-01T01:02:03Z' AS at", [], |row| {
            optional_timestamp(row, 0)
        });
        assert!(declined.is_err());
        let read = connection
            .query_row(
                "SELECT '2026-12-01 01:02:03.5' AS at, NULL AS never",
                [],
                |row| Ok((optional_timestamp(row, 0)?, optional_timestamp(row, 1)?)),
            )
            .expect("read");
        assert!(read.0.is_some());
        assert_eq!(read.1, None);
    }
}
