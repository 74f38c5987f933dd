//! The runtime's metadata (V14 or V15), reduced to what a client looks things up by: pallets by
//! name with their call, storage, constant and error types, the extrinsic's types and signed
//! extensions, and (V15) the runtime APIs. Every index and layout this crate uses comes from
//! here, so a runtime upgrade that moves a pallet or changes a type is followed, not broken.

use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed, v14, v15};
use parity_scale_codec::Decode;
use scale_info::form::PortableForm;
use scale_info::{PortableRegistry, TypeDef};

use crate::error::SubtensorError;

/// One pallet's entry points.
#[derive(Debug, Clone)]
pub struct Pallet {
    pub name: String,
    pub index: u8,
    /// The pallet's call enum, when it has calls.
    pub calls_ty: Option<u32>,
    /// The pallet's error enum, when it declares errors.
    pub error_ty: Option<u32>,
    /// Storage prefix (normally the pallet's name) and entries.
    pub storage_prefix: String,
    pub storage: Vec<StorageEntry>,
    pub constants: Vec<Constant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hasher {
    Blake2_128,
    Blake2_256,
    Blake2_128Concat,
    Twox128,
    Twox256,
    Twox64Concat,
    Identity,
}

#[derive(Debug, Clone)]
pub struct StorageEntry {
    pub name: String,
    /// Key hashers and the key's type, empty for a plain value.
    pub hashers: Vec<Hasher>,
    pub key_ty: Option<u32>,
    pub value_ty: u32,
    /// `ValueQuery`'s default bytes (`None` for `OptionQuery`: absence means none).
    pub default: Option<Vec<u8>>,
    pub docs: String,
}

#[derive(Debug, Clone)]
pub struct Constant {
    pub name: String,
    pub ty: u32,
    pub value: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct SignedExtension {
    pub identifier: String,
    /// Encoded into the extrinsic.
    pub ty: u32,
    /// Encoded only into the signed payload.
    pub additional_signed: u32,
}

#[derive(Debug, Clone)]
pub struct ExtrinsicInfo {
    pub version: u8,
    pub address_ty: u32,
    pub call_ty: u32,
    pub signature_ty: u32,
    pub signed_extensions: Vec<SignedExtension>,
}

#[derive(Debug, Clone)]
pub struct RuntimeApiMethod {
    pub api: String,
    pub name: String,
    pub inputs: Vec<(String, u32)>,
    pub output: u32,
}

/// Decoded metadata plus the runtime's spec version (for error messages).
#[derive(Debug, Clone)]
pub struct Metadata {
    pub version: u32,
    pub spec_version: u32,
    pub types: PortableRegistry,
    pub pallets: Vec<Pallet>,
    pub extrinsic: ExtrinsicInfo,
    /// Empty for V14, which does not describe runtime APIs.
    pub runtime_apis: Vec<RuntimeApiMethod>,
}

impl Metadata {
    /// Decodes a `RuntimeMetadataPrefixed` (what `state_getMetadata` returns).
    pub fn decode_prefixed(mut bytes: &[u8], spec_version: u32) -> Result<Self, SubtensorError> {
        let prefixed = RuntimeMetadataPrefixed::decode(&mut bytes)
            .map_err(|e| SubtensorError::Metadata(format!("not SCALE metadata: {e}")))?;
        if prefixed.0 != frame_metadata::META_RESERVED {
            return Err(SubtensorError::Metadata("missing the `meta` magic".into()));
        }
        match prefixed.1 {
            RuntimeMetadata::V14(m) => Ok(from_v14(m, spec_version)),
            RuntimeMetadata::V15(m) => Ok(from_v15(m, spec_version)),
            other => Err(SubtensorError::Metadata(format!(
                "version {} is not read (V14 and V15 are)",
                other.version()
            ))),
        }
    }

    /// Decodes the answer of the runtime call `Metadata_metadata_at_version`: an
    /// `Option<Vec<u8>>` around the prefixed metadata. `None` when the runtime lacks that version.
    pub fn decode_at_version(
        bytes: &[u8],
        spec_version: u32,
    ) -> Result<Option<Self>, SubtensorError> {
        let inner = Option::<Vec<u8>>::decode(&mut &bytes[..])
            .map_err(|e| SubtensorError::Metadata(format!("Metadata_metadata_at_version: {e}")))?;
        inner
            .map(|b| Self::decode_prefixed(&b, spec_version))
            .transpose()
    }

    pub fn pallet(&self, name: &str) -> Result<&Pallet, SubtensorError> {
        self.pallets
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| self.missing("pallet", name.to_string()))
    }

    pub fn storage(
        &self,
        pallet: &str,
        entry: &str,
    ) -> Result<(&Pallet, &StorageEntry), SubtensorError> {
        let p = self.pallet(pallet)?;
        p.storage
            .iter()
            .find(|e| e.name == entry)
            .map(|e| (p, e))
            .ok_or_else(|| self.missing("storage item", format!("{pallet}::{entry}")))
    }

    pub fn constant(&self, pallet: &str, name: &str) -> Result<&Constant, SubtensorError> {
        self.pallet(pallet)?
            .constants
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| self.missing("constant", format!("{pallet}::{name}")))
    }

    pub fn runtime_api(
        &self,
        api: &str,
        method: &str,
    ) -> Result<&RuntimeApiMethod, SubtensorError> {
        self.runtime_apis
            .iter()
            .find(|m| m.api == api && m.name == method)
            .ok_or_else(|| self.missing("runtime API", format!("{api}_{method}")))
    }

    /// The names of a pallet's calls, in index order.
    pub fn call_names(&self, pallet: &str) -> Result<Vec<String>, SubtensorError> {
        let p = self.pallet(pallet)?;
        let Some(ty) = p.calls_ty else {
            return Ok(Vec::new());
        };
        Ok(self.variants(ty)?.iter().map(|v| v.name.clone()).collect())
    }

    /// The variants of an enum type (a call or error enum).
    pub fn variants(
        &self,
        ty: u32,
    ) -> Result<&[scale_info::Variant<PortableForm>], SubtensorError> {
        match self.types.resolve(ty).map(|t| &t.type_def) {
            Some(TypeDef::Variant(v)) => Ok(&v.variants),
            _ => Err(SubtensorError::Metadata(format!(
                "type {ty} is not an enum"
            ))),
        }
    }

    /// A module error's (pallet, variant name, docs) from its pallet index and error bytes.
    pub fn module_error(&self, pallet_index: u8, error: u8) -> Option<(String, String, String)> {
        let p = self.pallets.iter().find(|p| p.index == pallet_index)?;
        let v = self
            .variants(p.error_ty?)
            .ok()?
            .iter()
            .find(|v| v.index == error)?;
        Some((
            p.name.clone(),
            v.name.clone(),
            v.docs.join(" ").trim().to_string(),
        ))
    }

    pub(crate) fn missing(&self, kind: &'static str, name: String) -> SubtensorError {
        SubtensorError::Missing {
            kind,
            name,
            spec_version: self.spec_version,
        }
    }
}

fn hasher(h: &v14::StorageHasher) -> Hasher {
    use v14::StorageHasher as H;
    match h {
        H::Blake2_128 => Hasher::Blake2_128,
        H::Blake2_256 => Hasher::Blake2_256,
        H::Blake2_128Concat => Hasher::Blake2_128Concat,
        H::Twox128 => Hasher::Twox128,
        H::Twox256 => Hasher::Twox256,
        H::Twox64Concat => Hasher::Twox64Concat,
        H::Identity => Hasher::Identity,
    }
}

fn storage_entries(s: &v14::PalletStorageMetadata<PortableForm>) -> Vec<StorageEntry> {
    s.entries
        .iter()
        .map(|e| {
            let (hashers, key_ty, value_ty) = match &e.ty {
                v14::StorageEntryType::Plain(v) => (Vec::new(), None, v.id),
                v14::StorageEntryType::Map {
                    hashers,
                    key,
                    value,
                } => (hashers.iter().map(hasher).collect(), Some(key.id), value.id),
            };
            let default = match e.modifier {
                v14::StorageEntryModifier::Default => Some(e.default.clone()),
                v14::StorageEntryModifier::Optional => None,
            };
            StorageEntry {
                name: e.name.clone(),
                hashers,
                key_ty,
                value_ty,
                default,
                docs: e.docs.join(" ").trim().to_string(),
            }
        })
        .collect()
}

fn constants(cs: &[v14::PalletConstantMetadata<PortableForm>]) -> Vec<Constant> {
    cs.iter()
        .map(|c| Constant {
            name: c.name.clone(),
            ty: c.ty.id,
            value: c.value.clone(),
        })
        .collect()
}

fn signed_extensions(exts: &[v14::SignedExtensionMetadata<PortableForm>]) -> Vec<SignedExtension> {
    exts.iter()
        .map(|e| SignedExtension {
            identifier: e.identifier.clone(),
            ty: e.ty.id,
            additional_signed: e.additional_signed.id,
        })
        .collect()
}

fn from_v14(m: v14::RuntimeMetadataV14, spec_version: u32) -> Metadata {
    let pallets = m
        .pallets
        .iter()
        .map(|p| Pallet {
            name: p.name.clone(),
            index: p.index,
            calls_ty: p.calls.as_ref().map(|c| c.ty.id),
            error_ty: p.error.as_ref().map(|e| e.ty.id),
            storage_prefix: p
                .storage
                .as_ref()
                .map_or_else(|| p.name.clone(), |s| s.prefix.clone()),
            storage: p.storage.as_ref().map(storage_entries).unwrap_or_default(),
            constants: constants(&p.constants),
        })
        .collect();
    // V14 names the extrinsic's parts only as type parameters of `UncheckedExtrinsic`.
    let param = |name: &str| {
        m.types
            .resolve(m.extrinsic.ty.id)
            .and_then(|t| t.type_params.iter().find(|p| p.name == name))
            .and_then(|p| p.ty.map(|t| t.id))
            .unwrap_or(u32::MAX)
    };
    let extrinsic = ExtrinsicInfo {
        version: m.extrinsic.version,
        address_ty: param("Address"),
        call_ty: param("Call"),
        signature_ty: param("Signature"),
        signed_extensions: signed_extensions(&m.extrinsic.signed_extensions),
    };
    Metadata {
        version: 14,
        spec_version,
        types: m.types,
        pallets,
        extrinsic,
        runtime_apis: Vec::new(),
    }
}

fn from_v15(m: v15::RuntimeMetadataV15, spec_version: u32) -> Metadata {
    let pallets = m
        .pallets
        .iter()
        .map(|p| Pallet {
            name: p.name.clone(),
            index: p.index,
            calls_ty: p.calls.as_ref().map(|c| c.ty.id),
            error_ty: p.error.as_ref().map(|e| e.ty.id),
            storage_prefix: p
                .storage
                .as_ref()
                .map_or_else(|| p.name.clone(), |s| s.prefix.clone()),
            storage: p.storage.as_ref().map(storage_entries).unwrap_or_default(),
            constants: constants(&p.constants),
        })
        .collect();
    let extrinsic = ExtrinsicInfo {
        version: m.extrinsic.version,
        address_ty: m.extrinsic.address_ty.id,
        call_ty: m.extrinsic.call_ty.id,
        signature_ty: m.extrinsic.signature_ty.id,
        signed_extensions: m
            .extrinsic
            .signed_extensions
            .iter()
            .map(|e| SignedExtension {
                identifier: e.identifier.clone(),
                ty: e.ty.id,
                additional_signed: e.additional_signed.id,
            })
            .collect(),
    };
    let runtime_apis = m
        .apis
        .iter()
        .flat_map(|api| {
            api.methods.iter().map(|method| RuntimeApiMethod {
                api: api.name.clone(),
                name: method.name.clone(),
                inputs: method
                    .inputs
                    .iter()
                    .map(|i| (i.name.clone(), i.ty.id))
                    .collect(),
                output: method.output.id,
            })
        })
        .collect();
    Metadata {
        version: 15,
        spec_version,
        types: m.types,
        pallets,
        extrinsic,
        runtime_apis,
    }
}
