//! The `serde` feature: any `Serialize` type to a Lua [`Value`] and any
//! `Deserialize` type from one.
//!
//! Structs and maps become tables with their fields; sequences and tuples become
//! tables with a sequence `1..=n`; `None`, `()` and unit structs become nil; a unit
//! enum variant is its name as a string, and other variants are `{Variant = value}`.
//! Integers must be exact as doubles (or the conversion is an error).

use crate::error::{Error, Result};
use crate::lua::Lua;
use crate::value::{Table, Value};
use serde::de::{self, IntoDeserializer};
use serde::ser::{self, Serialize};

impl Lua {
    /// Convert a `Serialize` value to a Lua value.
    ///
    /// ```
    /// # let lua = moonjet::Lua::new();
    /// #[derive(serde::Serialize)]
    /// struct Config { name: String, sizes: Vec<u32> }
    /// let v = lua.to_value(&Config { name: "x".into(), sizes: vec![1, 2] }).unwrap();
    /// lua.globals().set("config", v).unwrap();
    /// assert_eq!(lua.load("config.name .. #config.sizes").eval::<String>().unwrap(), "x2");
    /// ```
    pub fn to_value<T: Serialize + ?Sized>(&self, value: &T) -> Result<Value> {
        value.serialize(ValueSerializer { lua: self })
    }

    /// Convert a Lua value to a `Deserialize` type.
    ///
    /// ```
    /// # let lua = moonjet::Lua::new();
    /// #[derive(serde::Deserialize, PartialEq, Debug)]
    /// struct Config { name: String, verbose: Option<bool> }
    /// let v = lua.load("{ name = 'svc' }").eval().unwrap();
    /// let c: Config = lua.from_value(v).unwrap();
    /// assert_eq!(c, Config { name: "svc".into(), verbose: None });
    /// ```
    pub fn from_value<T: de::DeserializeOwned>(&self, value: Value) -> Result<T> {
        T::deserialize(ValueDeserializer { value })
    }
}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::SerializeError(msg.to_string())
    }
}

impl de::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::DeserializeError(msg.to_string())
    }
}

// ---- serializing ------------------------------------------------------------------------------

struct ValueSerializer<'a> {
    lua: &'a Lua,
}

fn exact(n: i128) -> Result<Value> {
    crate::conv::exact_f64(n, "integer")
        .map(Value::Number)
        .map_err(|e| Error::SerializeError(e.to_string()))
}

/// A table being filled with a sequence (`next` is the next index).
struct SeqSerializer<'a> {
    lua: &'a Lua,
    table: Table,
    next: usize,
    /// For enum variants: `{variant = table}`.
    variant: Option<&'static str>,
}

impl SeqSerializer<'_> {
    fn push<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        let v = v.serialize(ValueSerializer { lua: self.lua })?;
        self.next += 1;
        self.table.raw_set(self.next, v)
    }

    fn finish(self) -> Result<Value> {
        wrap_variant(self.lua, self.variant, Value::Table(self.table))
    }
}

fn wrap_variant(lua: &Lua, variant: Option<&'static str>, v: Value) -> Result<Value> {
    match variant {
        None => Ok(v),
        Some(name) => {
            let t = lua.create_table()?;
            t.raw_set(name, v)?;
            Ok(Value::Table(t))
        }
    }
}

/// A table being filled with fields.
struct MapSerializer<'a> {
    lua: &'a Lua,
    table: Table,
    key: Option<Value>,
    variant: Option<&'static str>,
}

impl<'a> ser::Serializer for ValueSerializer<'a> {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = SeqSerializer<'a>;
    type SerializeTuple = SeqSerializer<'a>;
    type SerializeTupleStruct = SeqSerializer<'a>;
    type SerializeTupleVariant = SeqSerializer<'a>;
    type SerializeMap = MapSerializer<'a>;
    type SerializeStruct = MapSerializer<'a>;
    type SerializeStructVariant = MapSerializer<'a>;

    fn serialize_bool(self, v: bool) -> Result<Value> {
        Ok(Value::Boolean(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value> {
        exact(v as i128)
    }
    fn serialize_i16(self, v: i16) -> Result<Value> {
        exact(v as i128)
    }
    fn serialize_i32(self, v: i32) -> Result<Value> {
        exact(v as i128)
    }
    fn serialize_i64(self, v: i64) -> Result<Value> {
        exact(v as i128)
    }
    fn serialize_i128(self, v: i128) -> Result<Value> {
        exact(v)
    }
    fn serialize_u8(self, v: u8) -> Result<Value> {
        exact(v as i128)
    }
    fn serialize_u16(self, v: u16) -> Result<Value> {
        exact(v as i128)
    }
    fn serialize_u32(self, v: u32) -> Result<Value> {
        exact(v as i128)
    }
    fn serialize_u64(self, v: u64) -> Result<Value> {
        exact(v as i128)
    }
    fn serialize_u128(self, v: u128) -> Result<Value> {
        match i128::try_from(v) {
            Ok(v) => exact(v),
            Err(_) => Err(Error::SerializeError(format!("{v} is too large"))),
        }
    }
    fn serialize_f32(self, v: f32) -> Result<Value> {
        Ok(Value::Number(v as f64))
    }
    fn serialize_f64(self, v: f64) -> Result<Value> {
        Ok(Value::Number(v))
    }
    fn serialize_char(self, v: char) -> Result<Value> {
        let mut b = [0; 4];
        Ok(Value::String(
            self.lua.create_string(v.encode_utf8(&mut b))?,
        ))
    }
    fn serialize_str(self, v: &str) -> Result<Value> {
        Ok(Value::String(self.lua.create_string(v)?))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value> {
        Ok(Value::String(self.lua.create_string(v)?))
    }
    fn serialize_none(self) -> Result<Value> {
        Ok(Value::Nil)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value> {
        Ok(Value::Nil)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Value> {
        Ok(Value::Nil)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Value> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Value> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value> {
        let lua = self.lua;
        let v = value.serialize(self)?;
        wrap_variant(lua, Some(variant), v)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSerializer<'a>> {
        Ok(SeqSerializer {
            lua: self.lua,
            table: self.lua.create_table_with_capacity(len.unwrap_or(0), 0)?,
            next: 0,
            variant: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSerializer<'a>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqSerializer<'a>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqSerializer<'a>> {
        let mut s = self.serialize_seq(Some(len))?;
        s.variant = Some(variant);
        Ok(s)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapSerializer<'a>> {
        Ok(MapSerializer {
            lua: self.lua,
            table: self.lua.create_table_with_capacity(0, len.unwrap_or(0))?,
            key: None,
            variant: None,
        })
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<MapSerializer<'a>> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<MapSerializer<'a>> {
        let mut m = self.serialize_map(Some(len))?;
        m.variant = Some(variant);
        Ok(m)
    }
}

impl ser::SerializeSeq for SeqSerializer<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }
    fn end(self) -> Result<Value> {
        self.finish()
    }
}

impl ser::SerializeTuple for SeqSerializer<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }
    fn end(self) -> Result<Value> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for SeqSerializer<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }
    fn end(self) -> Result<Value> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for SeqSerializer<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }
    fn end(self) -> Result<Value> {
        self.finish()
    }
}

impl MapSerializer<'_> {
    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<()> {
        let v = value.serialize(ValueSerializer { lua: self.lua })?;
        self.table.raw_set(key, v)
    }

    fn finish(self) -> Result<Value> {
        wrap_variant(self.lua, self.variant, Value::Table(self.table))
    }
}

impl ser::SerializeMap for MapSerializer<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        self.key = Some(key.serialize(ValueSerializer { lua: self.lua })?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let key = self
            .key
            .take()
            .ok_or_else(|| Error::SerializeError("a map value without a key".into()))?;
        let v = value.serialize(ValueSerializer { lua: self.lua })?;
        self.table.raw_set(key, v)
    }
    fn end(self) -> Result<Value> {
        self.finish()
    }
}

impl ser::SerializeStruct for MapSerializer<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.field(key, value)
    }
    fn end(self) -> Result<Value> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for MapSerializer<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.field(key, value)
    }
    fn end(self) -> Result<Value> {
        self.finish()
    }
}

// ---- deserializing ----------------------------------------------------------------------------

struct ValueDeserializer {
    value: Value,
}

impl<'de> IntoDeserializer<'de, Error> for ValueDeserializer {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

/// A table's `(key, value)` pairs, or its sequence if that is all it has.
enum TableShape {
    Seq(Vec<Value>),
    Map(Vec<(Value, Value)>),
}

fn table_shape(t: &Table) -> Result<TableShape> {
    let pairs: Vec<(Value, Value)> = t.pairs::<Value, Value>().collect::<Result<_>>()?;
    let n = t.raw_len();
    if n > 0 && pairs.len() == n {
        return Ok(TableShape::Seq(
            t.sequence_values::<Value>().collect::<Result<_>>()?,
        ));
    }
    Ok(TableShape::Map(pairs))
}

fn unexpected(v: &Value) -> Error {
    Error::DeserializeError(format!("cannot deserialize a Lua {}", v.type_name()))
}

impl<'de> de::Deserializer<'de> for ValueDeserializer {
    type Error = Error;

    fn deserialize_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            Value::Nil => visitor.visit_unit(),
            Value::Boolean(b) => visitor.visit_bool(b),
            Value::Integer(i) => visitor.visit_i64(i),
            Value::Number(n) => match crate::conv::f64_to_int::<i64>(n) {
                Ok(i) => visitor.visit_i64(i),
                Err(_) => visitor.visit_f64(n),
            },
            Value::String(s) => match s.to_str() {
                Ok(text) => visitor.visit_string(text.to_owned()),
                Err(_) => visitor.visit_byte_buf(s.as_bytes().to_vec()),
            },
            Value::Table(t) => match table_shape(&t)? {
                TableShape::Seq(items) => visitor.visit_seq(de::value::SeqDeserializer::new(
                    items.into_iter().map(|value| ValueDeserializer { value }),
                )),
                TableShape::Map(pairs) => visitor.visit_map(de::value::MapDeserializer::new(
                    pairs.into_iter().map(|(k, v)| {
                        (
                            ValueDeserializer { value: k },
                            ValueDeserializer { value: v },
                        )
                    }),
                )),
            },
            other => Err(unexpected(&other)),
        }
    }

    fn deserialize_option<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            Value::Nil => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            // An empty table is an empty sequence here (it has no keys to be a map).
            Value::Table(t) => {
                let items: Vec<Value> = t.sequence_values::<Value>().collect::<Result<_>>()?;
                visitor.visit_seq(de::value::SeqDeserializer::new(
                    items.into_iter().map(|value| ValueDeserializer { value }),
                ))
            }
            other => Err(unexpected(&other)),
        }
    }

    fn deserialize_newtype_struct<V: de::Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: de::Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.value {
            Value::String(s) => visitor.visit_enum(s.to_str()?.to_owned().into_deserializer()),
            Value::Table(t) => {
                let mut pairs: Vec<(Value, Value)> =
                    t.pairs::<Value, Value>().collect::<Result<_>>()?;
                if pairs.len() != 1 {
                    return Err(Error::DeserializeError(
                        "an enum variant table must have exactly one field".into(),
                    ));
                }
                let (k, v) = pairs.remove(0);
                let name = match k {
                    Value::String(s) => s.to_str()?.to_owned(),
                    other => return Err(unexpected(&other)),
                };
                visitor.visit_enum(EnumAccess { name, value: v })
            }
            other => Err(unexpected(&other)),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct tuple tuple_struct map struct identifier ignored_any
    }
}

struct EnumAccess {
    name: String,
    value: Value,
}

impl<'de> de::EnumAccess<'de> for EnumAccess {
    type Error = Error;
    type Variant = VariantAccess;
    fn variant_seed<V: de::DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantAccess)> {
        let name: de::value::StringDeserializer<Error> = self.name.into_deserializer();
        Ok((seed.deserialize(name)?, VariantAccess { value: self.value }))
    }
}

struct VariantAccess {
    value: Value,
}

impl<'de> de::VariantAccess<'de> for VariantAccess {
    type Error = Error;
    fn unit_variant(self) -> Result<()> {
        Ok(())
    }
    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(ValueDeserializer { value: self.value })
    }
    fn tuple_variant<V: de::Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_seq(ValueDeserializer { value: self.value }, visitor)
    }
    fn struct_variant<V: de::Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_any(ValueDeserializer { value: self.value }, visitor)
    }
}
