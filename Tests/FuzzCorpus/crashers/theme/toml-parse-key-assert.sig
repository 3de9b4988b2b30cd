Sources/toml.hpp:15481: bool toml::impl::parser::parse_key(): Assertion `is_bare_key_character(*cp) || is_string_delimiter(*cp)' failed.
