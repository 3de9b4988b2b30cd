Sources/toml.hpp:14994: node_ptr toml::impl::parser::parse_value(): Assertion `!is_value_terminator(*cp)' failed.
