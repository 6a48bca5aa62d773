//! Typed identifiers. Every id that crosses a module boundary is one of these newtypes, so a
//! case id can never be passed where a session id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            utoipa::ToSchema,
        )]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A fresh random id.
            pub fn random() -> Self {
                Self(uuid::Uuid::new_v4())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A case: one applicant's matter (an inheritance, a licence renewal, an ID renewal).
    CaseId
);
id_type!(
    /// One video session held for a case.
    SessionId
);
id_type!(
    /// An officer or auditor account.
    UserId
);
id_type!(
    /// A sealed artefact bundle.
    ArtefactId
);
id_type!(
    /// A booked appointment.
    BookingId
);
