//! sage-events core library.
//!
//! Pure domain code (configuration, `${…}` date templates, CEQL where-clause translation,
//! event payloads, signatures), the Sage Accounting client, and — in later slices — the
//! services written against small ports (traits) with their AWS and embedded adapters.
//! Domain modules never import an AWS SDK type.

#[cfg(feature = "aws")]
pub mod aws;
pub mod ceql;
pub mod clock;
pub mod config;
pub mod datefmt;
pub mod delivery;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod env_names;
pub mod event;
pub mod instance_secrets;
pub mod poll;
pub mod poller_config;
pub mod ports;
pub mod registration;
pub mod resources;
pub mod sage;
pub mod secret;
pub mod settings;
pub mod signature;
pub mod ssrf;
pub mod template;
pub mod translate;
