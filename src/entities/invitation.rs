use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invitations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub organization_id: i32,
    pub email: String,
    pub email_normalized: String,
    pub role: String,
    pub token_hash: String,
    pub status: String,
    pub pending_key: Option<String>,
    pub invited_by: i32,
    pub accepted_by: Option<i32>,
    pub created_at: DateTime,
    pub updated_at: DateTime,
    pub expires_at: DateTime,
    pub accepted_at: Option<DateTime>,
    pub revoked_at: Option<DateTime>,
    pub delivery_state: String,
    pub delivery_attempts: i32,
    pub delivery_error: Option<String>,
    pub delivered_at: Option<DateTime>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::organization::Entity",
        from = "Column::OrganizationId",
        to = "super::organization::Column::Id"
    )]
    Organization,
}

impl Related<super::organization::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Organization.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
