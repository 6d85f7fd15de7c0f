//! Verifier roles: which views of a permit a role accepts (in the order a holder's app offers
//! them) and which fields it may display. The verifier never displays a field its role may not
//! see, even when the credential carries it (a printed card's full credential scanned at a
//! hotel shows the hotel's fields only).
//!
//! ```
//! use permit_shared::role::{Field, Role};
//! let hotel = Role::parse("hotel").unwrap();
//! assert!(hotel.may_show(Field::NameMasked) && !hotel.may_show(Field::ResidenceAddress));
//! assert!(Role::parse("police").unwrap().may_show(Field::IdNumber));
//! ```

use crate::credential::ViewKind;

/// A field a verifier may display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The full name.
    Name,
    /// The masked name (张*伟).
    NameMasked,
    /// The ID number (masked to its first 3 and last 4 characters unless revealed).
    IdNumber,
    /// The last 4 characters of the ID number.
    IdLast4,
    /// Sex and birth date (read from the ID number).
    SexAndBirth,
    /// Ethnicity.
    Ethnicity,
    /// Household registration (户籍).
    Hukou,
    /// Residence city.
    ResidenceCity,
    /// Residence district and full address.
    ResidenceAddress,
    /// Issuing authority (签发机关).
    Authority,
    /// Issue date, last valid day, endorsement date.
    Dates,
    /// Serial and credential version.
    Serial,
    /// Status-list index and id, photo reference.
    Records,
}

/// Every field.
const ALL: &[Field] = &[
    Field::Name,
    Field::NameMasked,
    Field::IdNumber,
    Field::IdLast4,
    Field::SexAndBirth,
    Field::Ethnicity,
    Field::Hukou,
    Field::ResidenceCity,
    Field::ResidenceAddress,
    Field::Authority,
    Field::Dates,
    Field::Serial,
    Field::Records,
];

/// What a hotel, hospital, employer or school may see: the basic view's fields.
const BASIC: &[Field] = &[
    Field::NameMasked,
    Field::IdLast4,
    Field::ResidenceCity,
    Field::Dates,
    Field::Serial,
];

/// A verifier role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    /// Its name (`--role`).
    pub name: &'static str,
    /// The views it accepts, the one a holder's app should present first.
    pub views: &'static [ViewKind],
    /// The fields it may display.
    pub fields: &'static [Field],
}

/// The settings table of roles.
pub const ROLES: &[Role] = &[
    Role {
        name: "police",
        views: &[ViewKind::Full, ViewKind::Basic],
        fields: ALL,
    },
    Role {
        name: "hotel",
        views: &[ViewKind::Basic, ViewKind::Full],
        fields: BASIC,
    },
    Role {
        name: "hospital",
        views: &[ViewKind::Basic, ViewKind::Full],
        fields: BASIC,
    },
    Role {
        name: "employer",
        views: &[ViewKind::Basic, ViewKind::Full],
        fields: BASIC,
    },
    Role {
        name: "school",
        views: &[ViewKind::Basic, ViewKind::Full],
        fields: BASIC,
    },
];

impl Role {
    /// Looks a role up by name.
    pub fn parse(name: &str) -> Option<Role> {
        ROLES.iter().find(|r| r.name == name).copied()
    }

    /// The police role (every field), the verifier's default.
    pub fn police() -> Role {
        ROLES[0]
    }

    /// Whether the role may display `field`.
    pub fn may_show(&self, field: Field) -> bool {
        self.fields.contains(&field)
    }

    /// Whether the role accepts `view`.
    pub fn accepts(&self, view: ViewKind) -> bool {
        self.views.contains(&view)
    }

    /// The names of every role, for help texts and errors.
    pub fn names() -> Vec<&'static str> {
        ROLES.iter().map(|r| r.name).collect()
    }
}
