//! Sealing and verifying artefact bundles.
//!
//! Contract: a finished session becomes one artefact (a directory at rest, downloaded as one
//! zip bundle) whose manifest commits to every file and to the evidence chain, signed by the hub
//! with an ES256 JWS whose certificate chain leads to the office CA. [`pki`] owns the keys and
//! certificates, [`jws`] the signature format, [`bundle`] the manifest, the writing of artefacts
//! and their zips, [`rest`] the encryption of recordings at rest, [`retention`] their key's
//! lifetime and destruction, and [`verify`] the one verifier shared by the `verify` CLI and the
//! auditor API. Sealing never touches a clock: the caller passes `now` and `sealed_at`, and the
//! retention sweep its `now`.

pub mod bundle;
pub mod jws;
pub mod officer_pki;
pub mod pki;
pub mod rest;
pub mod retention;
pub mod signatures;
pub mod tsa;
pub mod verify;

pub use bundle::{
    BundleError, MANIFEST_FORMAT, Manifest, ManifestCase, ManifestChain, ManifestFile,
    ManifestParticipant, ManifestSession, SealInput, Sealed, StoredArtefact, seal,
};
pub use jws::{JwsError, Signer, sign_detached, verify_detached};
pub use pki::{HubIdentity, PkiError, ensure_dev_pki, load_trust_anchors};
pub use verify::{Check, Report, Trust, verify_bundle};
