//! Element types and modalities, and their numbers on the wire.

use std::fmt;

use crate::TensorError;

/// Element type of a tensor.
///
/// Values 1–5 are the Release 1 `DataType` enum. `Float16` (6) and `BFloat16` (7) are our
/// extensions: they travel as raw `i32` in the same proto field (the `.proto` file stays as
/// Release 1), so an old peer sees an unknown enum value and answers with an error instead of
/// misreading bytes. Only send them to peers that asked for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    Float32,
    Float64,
    Int32,
    Int64,
    /// A Python pickle of `list[str]` (see [`crate::pickle`]); only with [`Modality::Text`].
    Utf8,
    Float16,
    BFloat16,
}

impl DType {
    /// Every dtype, in wire order.
    pub const ALL: [DType; 7] = [
        DType::Float32,
        DType::Float64,
        DType::Int32,
        DType::Int64,
        DType::Utf8,
        DType::Float16,
        DType::BFloat16,
    ];

    /// The value in `Tensor.dtype`.
    pub const fn to_wire(self) -> i32 {
        match self {
            DType::Float32 => 1,
            DType::Float64 => 2,
            DType::Int32 => 3,
            DType::Int64 => 4,
            DType::Utf8 => 5,
            DType::Float16 => 6,
            DType::BFloat16 => 7,
        }
    }

    /// Parses `Tensor.dtype`; `UNKNOWN` (0) and anything out of range is an error.
    pub fn from_wire(value: i32) -> Result<Self, TensorError> {
        Ok(match value {
            1 => DType::Float32,
            2 => DType::Float64,
            3 => DType::Int32,
            4 => DType::Int64,
            5 => DType::Utf8,
            6 => DType::Float16,
            7 => DType::BFloat16,
            _ => return Err(TensorError::UnknownDType(value)),
        })
    }

    /// Bytes per element, or `None` for [`DType::Utf8`] (variable length).
    pub const fn size_of(self) -> Option<usize> {
        match self {
            DType::Float32 | DType::Int32 => Some(4),
            DType::Float64 | DType::Int64 => Some(8),
            DType::Float16 | DType::BFloat16 => Some(2),
            DType::Utf8 => None,
        }
    }

    /// True for the floating point dtypes (the ones the finiteness check applies to).
    pub const fn is_float(self) -> bool {
        matches!(
            self,
            DType::Float32 | DType::Float64 | DType::Float16 | DType::BFloat16
        )
    }

    /// True for the dtypes Release 1 peers know (1–5).
    pub const fn is_release_one(self) -> bool {
        !matches!(self, DType::Float16 | DType::BFloat16)
    }

    /// Lower-case name as numpy spells it.
    pub const fn name(self) -> &'static str {
        match self {
            DType::Float32 => "float32",
            DType::Float64 => "float64",
            DType::Int32 => "int32",
            DType::Int64 => "int64",
            DType::Utf8 => "utf8",
            DType::Float16 => "float16",
            DType::BFloat16 => "bfloat16",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a tensor represents; decides which dtypes are allowed (see [`Modality::allows`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Modality {
    #[default]
    Tensor,
    /// Images: `[batch, channels, height, width]`, normally float32 in 0..1.
    Image,
    /// Text: a pickled `list[str]` (UTF8) or token ids (INT64, or INT32).
    Text,
}

impl Modality {
    pub const ALL: [Modality; 3] = [Modality::Tensor, Modality::Image, Modality::Text];

    /// The value in `Tensor.modality`.
    pub const fn to_wire(self) -> i32 {
        match self {
            Modality::Tensor => 0,
            Modality::Image => 1,
            Modality::Text => 2,
        }
    }

    pub fn from_wire(value: i32) -> Result<Self, TensorError> {
        Ok(match value {
            0 => Modality::Tensor,
            1 => Modality::Image,
            2 => Modality::Text,
            _ => return Err(TensorError::UnknownModality(value)),
        })
    }

    /// Whether a tensor of this modality may carry `dtype`.
    ///
    /// UTF8 exists only for text; text is either UTF8 strings or integer token ids (Release 1
    /// neurons sent INT64 ids), never floats. Tensors and images take any numeric dtype.
    pub const fn allows(self, dtype: DType) -> bool {
        match self {
            Modality::Text => matches!(dtype, DType::Utf8 | DType::Int64 | DType::Int32),
            Modality::Tensor | Modality::Image => !matches!(dtype, DType::Utf8),
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Modality::Tensor => "TENSOR",
            Modality::Image => "IMAGE",
            Modality::Text => "TEXT",
        }
    }
}

impl fmt::Display for Modality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_round_trip_and_match_release_one() {
        for d in DType::ALL {
            assert_eq!(DType::from_wire(d.to_wire()), Ok(d));
        }
        assert_eq!(DType::Float32.to_wire(), bt_wire::DataType::Float32 as i32);
        assert_eq!(DType::Float64.to_wire(), bt_wire::DataType::Float64 as i32);
        assert_eq!(DType::Int32.to_wire(), bt_wire::DataType::Int32 as i32);
        assert_eq!(DType::Int64.to_wire(), bt_wire::DataType::Int64 as i32);
        assert_eq!(DType::Utf8.to_wire(), bt_wire::DataType::Utf8 as i32);
        for m in Modality::ALL {
            assert_eq!(Modality::from_wire(m.to_wire()), Ok(m));
        }
        assert_eq!(Modality::Text.to_wire(), bt_wire::Modality::Text as i32);
        assert_eq!(Modality::Image.to_wire(), bt_wire::Modality::Image as i32);
    }

    #[test]
    fn unknown_values_are_errors() {
        assert_eq!(DType::from_wire(0), Err(TensorError::UnknownDType(0)));
        assert_eq!(DType::from_wire(8), Err(TensorError::UnknownDType(8)));
        assert_eq!(DType::from_wire(-1), Err(TensorError::UnknownDType(-1)));
        assert_eq!(Modality::from_wire(3), Err(TensorError::UnknownModality(3)));
        assert_eq!(
            Modality::from_wire(-7),
            Err(TensorError::UnknownModality(-7))
        );
    }

    #[test]
    fn modality_rules() {
        assert!(Modality::Text.allows(DType::Utf8));
        assert!(Modality::Text.allows(DType::Int64));
        assert!(!Modality::Text.allows(DType::Float32));
        assert!(!Modality::Tensor.allows(DType::Utf8));
        assert!(!Modality::Image.allows(DType::Utf8));
        assert!(Modality::Image.allows(DType::Float16));
    }
}
