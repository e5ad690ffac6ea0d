use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub email: String,
    pub email_normalized: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    /// First and last name folded (`domain::folded_name`), as the members search compares them.
    pub name_folded: String,
    pub password_hash: String,
    pub active_organization_id: Option<i32>,
    pub date_joined: DateTime,
    pub last_activity: Option<DateTime>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::membership::Entity")]
    Membership,
}

impl Related<super::membership::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Membership.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
