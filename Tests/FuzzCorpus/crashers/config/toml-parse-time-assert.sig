Sources/toml.hpp:14790: time toml::impl::parser::parse_time(bool): Assertion `is_decimal_digit(*cp)' failed.
