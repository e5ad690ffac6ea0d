use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub invitation_id: Option<i32>,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub message_id: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime,
    pub claimed_until: Option<DateTime>,
    pub last_error: Option<String>,
    pub created_at: DateTime,
    pub sent_at: Option<DateTime>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
