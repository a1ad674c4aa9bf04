/**
 * What Go 1.26's json.NewDecoder(body).Decode(&raw) returns for these bodies, recorded once by
 * running Go on them (raw is a json.RawMessage, so only syntax and Decoder errors show).
 * Hand-picked bodies first, then mutations of valid documents and random token soups.
 */

/** [body, Go's error text]. */
export const GO_ERRORS: ReadonlyArray<readonly [string, string]> = [
  ['', 'EOF'],
  [' ', 'EOF'],
  [' \t\r\n ', 'EOF'],
  ['nope', "invalid character 'o' in literal null (expecting 'u')"],
  ['xyz', "invalid character 'x' looking for beginning of value"],
  ['n', 'unexpected EOF'],
  ['nu', 'unexpected EOF'],
  ['nul', 'unexpected EOF'],
  ['nulx', "invalid character 'x' in literal null (expecting 'l')"],
  ['nul l', "invalid character ' ' in literal null (expecting 'l')"],
  ['t', 'unexpected EOF'],
  ['tx', "invalid character 'x' in literal true (expecting 'r')"],
  ['trx', "invalid character 'x' in literal true (expecting 'u')"],
  ['trux', "invalid character 'x' in literal true (expecting 'e')"],
  ['f', 'unexpected EOF'],
  ['fx', "invalid character 'x' in literal false (expecting 'a')"],
  ['fax', "invalid character 'x' in literal false (expecting 'l')"],
  ['falx', "invalid character 'x' in literal false (expecting 's')"],
  ['falsx', "invalid character 'x' in literal false (expecting 'e')"],
  ['False', "invalid character 'F' looking for beginning of value"],
  ['TRUE', "invalid character 'T' looking for beginning of value"],
  ['NaN', "invalid character 'N' looking for beginning of value"],
  ['Infinity', "invalid character 'I' looking for beginning of value"],
  ['undefined', "invalid character 'u' looking for beginning of value"],
  ['-', 'unexpected EOF'],
  ['- 1', "invalid character ' ' in numeric literal"],
  ['-x', "invalid character 'x' in numeric literal"],
  ['1.', 'unexpected EOF'],
  ['1.x', "invalid character 'x' after decimal point in numeric literal"],
  ['.5', "invalid character '.' looking for beginning of value"],
  ['+1', "invalid character '+' looking for beginning of value"],
  ['1e', 'unexpected EOF'],
  ['1e+', 'unexpected EOF'],
  ['1e-', 'unexpected EOF'],
  ['1ex', "invalid character 'x' in exponent of numeric literal"],
  ['1e+x', "invalid character 'x' in exponent of numeric literal"],
  ['1ee', "invalid character 'e' in exponent of numeric literal"],
  ['0.e1', "invalid character 'e' after decimal point in numeric literal"],
  ['"', 'unexpected EOF'],
  ['"abc', 'unexpected EOF'],
  ['"a\tb"', "invalid character '\\t' in string literal"],
  ['"a\nb"', "invalid character '\\n' in string literal"],
  ['"\u0001"', "invalid character '\\x01' in string literal"],
  ['"\u001f"', "invalid character '\\x1f' in string literal"],
  ['"\\', 'unexpected EOF'],
  ['"\\x"', "invalid character 'x' in string escape code"],
  ['"\\u"', 'invalid character \'"\' in \\u hexadecimal character escape'],
  ['"\\u12"', 'invalid character \'"\' in \\u hexadecimal character escape'],
  ['"\\u12g4"', "invalid character 'g' in \\u hexadecimal character escape"],
  ['"\\uZ"', "invalid character 'Z' in \\u hexadecimal character escape"],
  ['"\\\'"', "invalid character '\\'' in string escape code"],
  ['"\\a"', "invalid character 'a' in string escape code"],
  ['"\\U0041"', "invalid character 'U' in string escape code"],
  ['{', 'unexpected EOF'],
  ['{ ', 'unexpected EOF'],
  ['{"a"', 'unexpected EOF'],
  ['{"a" ', 'unexpected EOF'],
  ['{"a" x', "invalid character 'x' after object key"],
  ['{"a":', 'unexpected EOF'],
  ['{"a":}', "invalid character '}' looking for beginning of value"],
  ['{"a":1', 'unexpected EOF'],
  ['{"a":1 ', 'unexpected EOF'],
  ['{"a":1x', "invalid character 'x' after object key:value pair"],
  ['{"a":1,', 'unexpected EOF'],
  ['{"a":1,}', "invalid character '}' looking for beginning of object key string"],
  ['{"a":1,"b"', 'unexpected EOF'],
  ['{,', "invalid character ',' looking for beginning of object key string"],
  ['{a:1}', "invalid character 'a' looking for beginning of object key string"],
  ["{'a':1}", "invalid character '\\'' looking for beginning of object key string"],
  ['{"a":01}', "invalid character '1' after object key:value pair"],
  ['{"a":-}', "invalid character '}' in numeric literal"],
  ['{"a" : tru}', "invalid character '}' in literal true (expecting 'e')"],
  ['{"a":"b"\u0000}', "invalid character '\\x00' after object key:value pair"],
  ['{"\u0001":1}', "invalid character '\\x01' in string literal"],
  ['[', 'unexpected EOF'],
  ['[ ', 'unexpected EOF'],
  ['[1', 'unexpected EOF'],
  ['[1 ', 'unexpected EOF'],
  ['[1,', 'unexpected EOF'],
  ['[1,]', "invalid character ']' looking for beginning of value"],
  ['[,', "invalid character ',' looking for beginning of value"],
  ['[,1]', "invalid character ',' looking for beginning of value"],
  ['[1 2]', "invalid character '2' after array element"],
  ['[1x', "invalid character 'x' after array element"],
  ['[01]', "invalid character '1' after array element"],
  ['[-]', "invalid character ']' in numeric literal"],
  ['[1.]', "invalid character ']' after decimal point in numeric literal"],
  ['[1e]', "invalid character ']' in exponent of numeric literal"],
  ['[[[', 'unexpected EOF'],
  ['[{]', "invalid character ']' looking for beginning of object key string"],
  ['[}', "invalid character '}' looking for beginning of value"],
  ['{]', "invalid character ']' looking for beginning of object key string"],
  ['[true false]', "invalid character 'f' after array element"],
  ['[nul]', "invalid character ']' in literal null (expecting 'l')"],
  ['[tru e]', "invalid character ' ' in literal true (expecting 'e')"],
  ['\ufeff{}', "invalid character 'ï' looking for beginning of value"],
  ['\ufeff', "invalid character 'ï' looking for beginning of value"],
  ['\u00a0{}', "invalid character 'Â' looking for beginning of value"],
  ['\u2028{}', "invalid character 'â' looking for beginning of value"],
  ['é', "invalid character 'Ã' looking for beginning of value"],
  ['€', "invalid character 'â' looking for beginning of value"],
  ['😀', "invalid character 'ð' looking for beginning of value"],
  ['\u0080', "invalid character 'Â' looking for beginning of value"],
  ['\u00ad', "invalid character 'Â' looking for beginning of value"],
  ['ÿ', "invalid character 'Ã' looking for beginning of value"],
  ['[é]', "invalid character 'Ã' looking for beginning of value"],
  ['{"a":1é}', "invalid character 'Ã' after object key:value pair"],
  ['{é}', "invalid character 'Ã' looking for beginning of object key string"],
  ['-é', "invalid character 'Ã' in numeric literal"],
  ['1.é', "invalid character 'Ã' after decimal point in numeric literal"],
  ['1eé', "invalid character 'Ã' in exponent of numeric literal"],
  ['\u0000', "invalid character '\\x00' looking for beginning of value"],
  ['\u0001', "invalid character '\\x01' looking for beginning of value"],
  ['\u0007', "invalid character '\\a' looking for beginning of value"],
  ['\u0008', "invalid character '\\b' looking for beginning of value"],
  ['\u000c', "invalid character '\\f' looking for beginning of value"],
  ['\u000b', "invalid character '\\v' looking for beginning of value"],
  ['\u001b', "invalid character '\\x1b' looking for beginning of value"],
  ['\u007f', "invalid character '\\x7f' looking for beginning of value"],
  ['\\', "invalid character '\\\\' looking for beginning of value"],
  ["'", "invalid character '\\'' looking for beginning of value"],
  [')', "invalid character ')' looking for beginning of value"],
  ['}', "invalid character '}' looking for beginning of value"],
  [']', "invalid character ']' looking for beginning of value"],
  [':', "invalid character ':' looking for beginning of value"],
  [',', "invalid character ',' looking for beginning of value"],
  ['/', "invalid character '/' looking for beginning of value"],
  ['/* c */ {}', "invalid character '/' looking for beginning of value"],
  ['# x', "invalid character '#' looking for beginning of value"],
  ['{"state":', 'unexpected EOF'],
  ['{"k":', 'unexpected EOF'],
  ['fals', 'unexpected EOF'],
  ['"\\u12', 'unexpected EOF'],
  ['.', "invalid character '.' looking for beginning of value"],
  ['e', "invalid character 'e' looking for beginning of value"],
  ['\t', 'EOF'],
  ['E', "invalid character 'E' looking for beginning of value"],
  ['+', "invalid character '+' looking for beginning of value"],
  ['tr', 'unexpected EOF'],
  ['\n', 'EOF'],
  ['"\\x', "invalid character 'x' in string escape code"],
  ['x', "invalid character 'x' looking for beginning of value"],
  ['[true,falsae,null,', "invalid character 'a' in literal false (expecting 'e')"],
  ['{"a":[1,2,{"b":null}', 'unexpected EOF'],
  ['{"state":"ready","{changed_at":"2024-01-01T0', 'unexpected EOF'],
  ['[[]', 'unexpected EOF'],
  ['{"a":[1,2,{"', 'unexpected EOF'],
  ['{"state":"ready","chan+ed_at":"2024-01-01T00:00:00Z"', 'unexpected EOF'],
  ['[true,fa3se,', "invalid character '3' in literal false (expecting 'l')"],
  ['{"state":"r', 'unexpected EOF'],
  ['"str', 'unexpected EOF'],
  [':-12.5E+', "invalid character ':' looking for beginning of value"],
  ['[true,fa', 'unexpected EOF'],
  ['[[],[{]', "invalid character ']' looking for beginning of object key string"],
  ['[[', 'unexpected EOF'],
  [' [true,false,n', 'unexpected EOF'],
  ['{"state":"retady","changed_at":"2024-01-', 'unexpected EOF'],
  ['[[],a[{}]', "invalid character 'a' looking for beginning of value"],
  ['{"a":[1,2,{"b":null}],"c":"d\\u', 'unexpected EOF'],
  ['[true,false,null\u0001-1.5e', "invalid character '\\x01' after array element"],
  ['{"state"::"ready","changed_at":"2024-01-01T00:00:00Z"', "invalid character ':' looking for beginning of value"],
  ['{"a":[1,2,{"b":null}],"c":', 'unexpected EOF'],
  ['{\u0001', "invalid character '\\x01' looking for beginning of object key string"],
  ['{"a":[1,2,{"b":null}{]', "invalid character '{' after array element"],
  ['[tr', 'unexpected EOF'],
  ['-12.5Ea+', "invalid character 'a' in exponent of numeric literal"],
  ['{"state":"ready","changed_at":"2024-01-01', 'unexpected EOF'],
  ['[[ ],[{', 'unexpected EOF'],
  ['"tr\\', 'unexpected EOF'],
  ['{"a":[1,2,{"b":null}],"c":"d\\u04', 'unexpected EOF'],
  ['{"a":[1,2,{"b":null}],c":"d\\', "invalid character 'c' looking for beginning of object key string"],
  ['{"', 'unexpected EOF'],
  ['[[],[{:}]', "invalid character ':' looking for beginning of object key string"],
  ['[tru', 'unexpected EOF'],
  ['t-12.5', "invalid character '-' in literal true (expecting 'r')"],
  ['{"a":[', 'unexpected EOF'],
  ['{[[],[{}', "invalid character '[' looking for beginning of object key string"],
  ['"s', 'unexpected EOF'],
  ['{"state":"ready', 'unexpected EOF'],
  ['{"state":"ready","chnged_at":"2024-01-01T00:00:00', 'unexpected EOF'],
  ['[[],{', 'unexpected EOF'],
  ['{"s', 'unexpected EOF'],
  ['{ a":[1,2', "invalid character 'a' looking for beginning of object key string"],
  ['-12.', 'unexpected EOF'],
  ['[[],', 'unexpected EOF'],
  ['{"state":"ready","changed_at":"2', 'unexpected EOF'],
  [' "st', 'unexpected EOF'],
  ['{"state":"re\u0001dy","changed_at":"202', "invalid character '\\x01' in string literal"],
  ['{"state":"ready","changed_at":"2024-01-01T0:00', 'unexpected EOF'],
  ['[true,false,null,-1.5e-3,"ax\\"', 'unexpected EOF'],
  ['"str\\\\in', 'unexpected EOF'],
  ['{a":[1,2,{"b":null}],"c":"d\\', "invalid character 'a' looking for beginning of object key string"],
  ['[[],\u0001{', "invalid character '\\x01' looking for beginning of value"],
  ['{"stat ":"re', 'unexpected EOF'],
  ['t"st', 'invalid character \'"\' in literal true (expecting \'r\')'],
  ['{"st', 'unexpected EOF'],
  ['{"state":"ready","changed_at":"20', 'unexpected EOF'],
  ['{"state":"ready","changed_at:"2024-01-01T00:', "invalid character '2' after object key"],
  ['{"a":[1,2,{"b":null}],"c":"d', 'unexpected EOF'],
  ['-\u00012.5E+', "invalid character '\\x01' in numeric literal"],
  ['"str\\\\ang', 'unexpected EOF'],
  ['{"a":[1,2,{"b":null}t,"c":"d\\u0041"', "invalid character 't' after array element"],
  ['{"state":"ready","c', 'unexpected EOF'],
  [':-12', "invalid character ':' looking for beginning of value"],
  ['{"state":"ready","changed_at":"224', 'unexpected EOF'],
  ['{"a":[1,2,{"b":null}],c":"d\\u004', "invalid character 'c' looking for beginning of object key string"],
  ['{"a":[1,', 'unexpected EOF'],
  ['[[],[{}]', 'unexpected EOF'],
  ['{"a":[1,2,{"b":tnull}],"c":"d\\', "invalid character 'n' in literal true (expecting 'r')"],
  ['{"state":"read', 'unexpected EOF'],
  ['{"a":[1,2,{"b":nul7}],"', "invalid character '7' in literal null (expecting 'l')"],
];

/** [body, the first value Go read (its bytes), that value as Go's json.Marshal prints it after decoding into any (null: Go cannot hold it in a float64)]. */
export const GO_VALUES: ReadonlyArray<readonly [string, string, string | null]> = [
  ['null', 'null', 'null'],
  ['nullx', 'null', 'null'],
  ['true', 'true', 'true'],
  ['truex', 'true', 'true'],
  ['false', 'false', 'false'],
  ['-0', '-0', '-0'],
  ['-01', '-0', '-0'],
  ['01', '0', '0'],
  ['00', '0', '0'],
  ['0x10', '0', '0'],
  ['1', '1', '1'],
  ['123', '123', '123'],
  ['123abc', '123', '123'],
  ['12 34', '12', '12'],
  ['1.5', '1.5', '1.5'],
  ['1.5.3', '1.5', '1.5'],
  ['1E5', '1E5', '100000'],
  ['1.5e-3', '1.5e-3', '0.0015'],
  ['1.5e+3x', '1.5e+3', '1500'],
  ['-0.0e0', '-0.0e0', '-0'],
  ['1e400', '1e400', null],
  ['"abc"', '"abc"', '"abc"'],
  ['"abc"x', '"abc"', '"abc"'],
  ['"\u007f"', '"\u007f"', '"\u007f"'],
  ['"\\u00e9"', '"\\u00e9"', '"é"'],
  ['"\\/\\b\\f\\n\\r\\t\\\\\\""', '"\\/\\b\\f\\n\\r\\t\\\\\\""', '"/\\b\\f\\n\\r\\t\\\\\\""'],
  ['"\\ud800"', '"\\ud800"', '"\ufffd"'],
  ['"\\ud83d\\ude00"', '"\\ud83d\\ude00"', '"😀"'],
  ['"\\ude00\\ud83d"', '"\\ude00\\ud83d"', '"\ufffd\ufffd"'],
  ['"é€😀"', '"é€😀"', '"é€😀"'],
  ['{}', '{}', '{}'],
  ['{}x', '{}', '{}'],
  ['{} {}', '{}', '{}'],
  ['{"a":1 , "b" : [ ] }', '{"a":1 , "b" : [ ] }', '{"a":1,"b":[]}'],
  ['{"a":1}}', '{"a":1}', '{"a":1}'],
  ['[]', '[]', '[]'],
  ['[]]', '[]', '[]'],
  ['[1e5]', '[1e5]', '[100000]'],
  ['[[[]]]', '[[[]]]', '[[[]]]'],
  ['[{"a":[{}]}]', '[{"a":[{}]}]', '[{"a":[{}]}]'],
  ['1é', '1', '1'],
  ['"\'"', '"\'"', '"\'"'],
  ['{"state":"ready"} trailing garbage', '{"state":"ready"}', '{"state":"ready"}'],
  ['{"state":"starting"}{"state":"bogus"}', '{"state":"starting"}', '{"state":"starting"}'],
  ['  {"a": [1, 2.5, -3e2, true, false, null, "x"]}  ', '{"a": [1, 2.5, -3e2, true, false, null, "x"]}', '{"a":[1,2.5,-300,true,false,null,"x"]}'],
  ['"\\u00e9""a"+"true,{"k":', '"\\u00e9"', '"é"'],
  ['"b\\n"', '"b\\n"', '"b\\n"'],
  ['1e5', '1e5', '100000'],
  ['"a"', '"a"', '"a"'],
  ['"é"', '"é"', '"é"'],
  ['9', '9', '9'],
  ['"b\\n""é"', '"b\\n"', '"b\\n"'],
  ['[[],{}]]', '[[],{}]', '[[],{}]'],
  ['-1', '-1', '-1'],
  ['3str', '3', '3'],
  ['3}', '3', '3'],
  ['-1{2', '-1', '-1'],
  ['-1{2.5', '-1', '-1'],
  ['[],[{', '[]', '[]'],
  ['[],[{}]', '[]', '[]'],
  ['-12.5\u0001', '-12.5', '-12.5'],
  ['-1 .', '-1', '-1'],
];

/** [body as hex, Go's error text] for bodies that are not (all) valid UTF-8 or start with a BOM. */
export const GO_BYTE_ERRORS: ReadonlyArray<readonly [string, string]> = [
  ['ff', "invalid character 'ÿ' looking for beginning of value"],
  ['c3', "invalid character 'Ã' looking for beginning of value"],
  ['c328', "invalid character 'Ã' looking for beginning of value"],
  ['e282', "invalid character 'â' looking for beginning of value"],
  ['80', "invalid character '\\u0080' looking for beginning of value"],
  ['fe', "invalid character 'þ' looking for beginning of value"],
  ['efbbbf7b7d', "invalid character 'ï' looking for beginning of value"],
  ['22f4908080', 'unexpected EOF'],
  ['5bff5d', "invalid character 'ÿ' looking for beginning of value"],
  ['7b22610a223a317d', "invalid character '\\n' in string literal"],
];

/** [body as hex, the decoded value as Go's json.Marshal prints it]: invalid UTF-8 inside strings. */
export const GO_BYTE_VALUES: ReadonlyArray<readonly [string, string]> = [
  ['22ff22', '"\ufffd"'],
  ['22c32822', '"\ufffd("'],
  ['22e28222', '"\ufffd\ufffd"'],
  ['22f09f9822', '"\ufffd\ufffd\ufffd"'],
  ['22eda08022', '"\ufffd\ufffd\ufffd"'],
  ['22c0af22', '"\ufffd\ufffd"'],
  ['22f490808022', '"\ufffd\ufffd\ufffd\ufffd"'],
  ['22e282ac22', '"€"'],
  ['7b22c3223a22ff227d', '{"\ufffd":"\ufffd"}'],
];

/** Go's quoteChar for each byte 0–255, as it appears in "invalid character X ...". */
export const GO_QUOTE_CHAR: readonly string[] = [
  "'\\x00'", // 0x00
  "'\\x01'", // 0x01
  "'\\x02'", // 0x02
  "'\\x03'", // 0x03
  "'\\x04'", // 0x04
  "'\\x05'", // 0x05
  "'\\x06'", // 0x06
  "'\\a'", // 0x07
  "'\\b'", // 0x08
  "'\\t'", // 0x09
  "'\\n'", // 0x0a
  "'\\v'", // 0x0b
  "'\\f'", // 0x0c
  "'\\r'", // 0x0d
  "'\\x0e'", // 0x0e
  "'\\x0f'", // 0x0f
  "'\\x10'", // 0x10
  "'\\x11'", // 0x11
  "'\\x12'", // 0x12
  "'\\x13'", // 0x13
  "'\\x14'", // 0x14
  "'\\x15'", // 0x15
  "'\\x16'", // 0x16
  "'\\x17'", // 0x17
  "'\\x18'", // 0x18
  "'\\x19'", // 0x19
  "'\\x1a'", // 0x1a
  "'\\x1b'", // 0x1b
  "'\\x1c'", // 0x1c
  "'\\x1d'", // 0x1d
  "'\\x1e'", // 0x1e
  "'\\x1f'", // 0x1f
  "' '", // 0x20
  "'!'", // 0x21
  '\'"\'', // 0x22
  "'#'", // 0x23
  "'$'", // 0x24
  "'%'", // 0x25
  "'&'", // 0x26
  "'\\''", // 0x27
  "'('", // 0x28
  "')'", // 0x29
  "'*'", // 0x2a
  "'+'", // 0x2b
  "','", // 0x2c
  "'-'", // 0x2d
  "'.'", // 0x2e
  "'/'", // 0x2f
  "'0'", // 0x30
  "'1'", // 0x31
  "'2'", // 0x32
  "'3'", // 0x33
  "'4'", // 0x34
  "'5'", // 0x35
  "'6'", // 0x36
  "'7'", // 0x37
  "'8'", // 0x38
  "'9'", // 0x39
  "':'", // 0x3a
  "';'", // 0x3b
  "'<'", // 0x3c
  "'='", // 0x3d
  "'>'", // 0x3e
  "'?'", // 0x3f
  "'@'", // 0x40
  "'A'", // 0x41
  "'B'", // 0x42
  "'C'", // 0x43
  "'D'", // 0x44
  "'E'", // 0x45
  "'F'", // 0x46
  "'G'", // 0x47
  "'H'", // 0x48
  "'I'", // 0x49
  "'J'", // 0x4a
  "'K'", // 0x4b
  "'L'", // 0x4c
  "'M'", // 0x4d
  "'N'", // 0x4e
  "'O'", // 0x4f
  "'P'", // 0x50
  "'Q'", // 0x51
  "'R'", // 0x52
  "'S'", // 0x53
  "'T'", // 0x54
  "'U'", // 0x55
  "'V'", // 0x56
  "'W'", // 0x57
  "'X'", // 0x58
  "'Y'", // 0x59
  "'Z'", // 0x5a
  "'['", // 0x5b
  "'\\\\'", // 0x5c
  "']'", // 0x5d
  "'^'", // 0x5e
  "'_'", // 0x5f
  "'`'", // 0x60
  "'a'", // 0x61
  "'b'", // 0x62
  "'c'", // 0x63
  "'d'", // 0x64
  "'e'", // 0x65
  "'f'", // 0x66
  "'g'", // 0x67
  "'h'", // 0x68
  "'i'", // 0x69
  "'j'", // 0x6a
  "'k'", // 0x6b
  "'l'", // 0x6c
  "'m'", // 0x6d
  "'n'", // 0x6e
  "'o'", // 0x6f
  "'p'", // 0x70
  "'q'", // 0x71
  "'r'", // 0x72
  "'s'", // 0x73
  "'t'", // 0x74
  "'u'", // 0x75
  "'v'", // 0x76
  "'w'", // 0x77
  "'x'", // 0x78
  "'y'", // 0x79
  "'z'", // 0x7a
  "'{'", // 0x7b
  "'|'", // 0x7c
  "'}'", // 0x7d
  "'~'", // 0x7e
  "'\\x7f'", // 0x7f
  "'\\u0080'", // 0x80
  "'\\u0081'", // 0x81
  "'\\u0082'", // 0x82
  "'\\u0083'", // 0x83
  "'\\u0084'", // 0x84
  "'\\u0085'", // 0x85
  "'\\u0086'", // 0x86
  "'\\u0087'", // 0x87
  "'\\u0088'", // 0x88
  "'\\u0089'", // 0x89
  "'\\u008a'", // 0x8a
  "'\\u008b'", // 0x8b
  "'\\u008c'", // 0x8c
  "'\\u008d'", // 0x8d
  "'\\u008e'", // 0x8e
  "'\\u008f'", // 0x8f
  "'\\u0090'", // 0x90
  "'\\u0091'", // 0x91
  "'\\u0092'", // 0x92
  "'\\u0093'", // 0x93
  "'\\u0094'", // 0x94
  "'\\u0095'", // 0x95
  "'\\u0096'", // 0x96
  "'\\u0097'", // 0x97
  "'\\u0098'", // 0x98
  "'\\u0099'", // 0x99
  "'\\u009a'", // 0x9a
  "'\\u009b'", // 0x9b
  "'\\u009c'", // 0x9c
  "'\\u009d'", // 0x9d
  "'\\u009e'", // 0x9e
  "'\\u009f'", // 0x9f
  "'\\u00a0'", // 0xa0
  "'¡'", // 0xa1
  "'¢'", // 0xa2
  "'£'", // 0xa3
  "'¤'", // 0xa4
  "'¥'", // 0xa5
  "'¦'", // 0xa6
  "'§'", // 0xa7
  "'¨'", // 0xa8
  "'©'", // 0xa9
  "'ª'", // 0xaa
  "'«'", // 0xab
  "'¬'", // 0xac
  "'\\u00ad'", // 0xad
  "'®'", // 0xae
  "'¯'", // 0xaf
  "'°'", // 0xb0
  "'±'", // 0xb1
  "'²'", // 0xb2
  "'³'", // 0xb3
  "'´'", // 0xb4
  "'µ'", // 0xb5
  "'¶'", // 0xb6
  "'·'", // 0xb7
  "'¸'", // 0xb8
  "'¹'", // 0xb9
  "'º'", // 0xba
  "'»'", // 0xbb
  "'¼'", // 0xbc
  "'½'", // 0xbd
  "'¾'", // 0xbe
  "'¿'", // 0xbf
  "'À'", // 0xc0
  "'Á'", // 0xc1
  "'Â'", // 0xc2
  "'Ã'", // 0xc3
  "'Ä'", // 0xc4
  "'Å'", // 0xc5
  "'Æ'", // 0xc6
  "'Ç'", // 0xc7
  "'È'", // 0xc8
  "'É'", // 0xc9
  "'Ê'", // 0xca
  "'Ë'", // 0xcb
  "'Ì'", // 0xcc
  "'Í'", // 0xcd
  "'Î'", // 0xce
  "'Ï'", // 0xcf
  "'Ð'", // 0xd0
  "'Ñ'", // 0xd1
  "'Ò'", // 0xd2
  "'Ó'", // 0xd3
  "'Ô'", // 0xd4
  "'Õ'", // 0xd5
  "'Ö'", // 0xd6
  "'×'", // 0xd7
  "'Ø'", // 0xd8
  "'Ù'", // 0xd9
  "'Ú'", // 0xda
  "'Û'", // 0xdb
  "'Ü'", // 0xdc
  "'Ý'", // 0xdd
  "'Þ'", // 0xde
  "'ß'", // 0xdf
  "'à'", // 0xe0
  "'á'", // 0xe1
  "'â'", // 0xe2
  "'ã'", // 0xe3
  "'ä'", // 0xe4
  "'å'", // 0xe5
  "'æ'", // 0xe6
  "'ç'", // 0xe7
  "'è'", // 0xe8
  "'é'", // 0xe9
  "'ê'", // 0xea
  "'ë'", // 0xeb
  "'ì'", // 0xec
  "'í'", // 0xed
  "'î'", // 0xee
  "'ï'", // 0xef
  "'ð'", // 0xf0
  "'ñ'", // 0xf1
  "'ò'", // 0xf2
  "'ó'", // 0xf3
  "'ô'", // 0xf4
  "'õ'", // 0xf5
  "'ö'", // 0xf6
  "'÷'", // 0xf7
  "'ø'", // 0xf8
  "'ù'", // 0xf9
  "'ú'", // 0xfa
  "'û'", // 0xfb
  "'ü'", // 0xfc
  "'ý'", // 0xfd
  "'þ'", // 0xfe
  "'ÿ'", // 0xff
];
