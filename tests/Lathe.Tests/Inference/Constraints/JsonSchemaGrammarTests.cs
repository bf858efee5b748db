using System.Text.Json;
using Lathe.Inference.Constraints;

namespace Lathe.Tests.Inference.Constraints;

/// <summary>The compiled grammars accept and refuse hand-written JSON texts: each case is written here with its
/// verdict by the JSON Schema rules and this compiler's documented choices (schema order, bounded whitespace).</summary>
public class JsonSchemaGrammarTests
{
    const string Person = """
        {"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"email":{"type":"string"}},
         "required":["name","age"],"additionalProperties":false}
        """;

    [Theory]
    [InlineData("""{"name":"Ann","age":3}""", true)]
    [InlineData("""{"name": "Ann", "age": -3, "email": "a@b.c"}""", true)]
    [InlineData("{ \"name\" : \"x\" ,\n  \"age\" : 0 }", true)]
    [InlineData(""" {"name":"Ann","age":3}""", true)]                   // leading whitespace (a SentencePiece first token)
    [InlineData("""{"age":3,"name":"Ann"}""", false)]                   // out of schema order
    [InlineData("""{"name":"Ann"}""", false)]                           // required age missing
    [InlineData("""{"name":"Ann","email":"e"}""", false)]
    [InlineData("""{"name":"Ann","age":3.5}""", false)]                 // integer with a fraction
    [InlineData("""{"name":"Ann","age":1e2}""", false)]
    [InlineData("""{"name":"Ann","age":03}""", false)]                  // leading zero
    [InlineData("""{"name":"Ann","age":3,"extra":1}""", false)]         // additionalProperties false
    [InlineData("""{"name":"Ann","age":3,}""", false)]                  // trailing comma
    [InlineData("""{"name":"Ann","age":3} """, false)]                  // nothing may follow the value
    [InlineData("""{"name":Ann,"age":3}""", false)]
    [InlineData("""{"name":"Ann","age":"3"}""", false)]
    [InlineData("""{"name":"Ann" "age":3}""", false)]
    public void Object_with_required_and_optional_properties(string json, bool valid) =>
        Assert.Equal(valid, ConstraintTestSupport.Automaton(Person).Accepts(json));

    [Theory]
    [InlineData("""{"b":1}""", true)]
    [InlineData("""{"a":1,"b":1}""", true)]
    [InlineData("""{"b":1,"c":1}""", true)]
    [InlineData("""{"a":1,"b":1,"c":1}""", true)]
    [InlineData("{}", false)]
    [InlineData("""{"a":1}""", false)]
    [InlineData("""{"a":1,"c":1}""", false)]
    [InlineData("""{"c":1,"b":1}""", false)]
    [InlineData("""{"b":1,"b":1}""", false)]
    public void Optional_properties_may_be_skipped_but_not_reordered(string json, bool valid) =>
        Assert.Equal(valid, ConstraintTestSupport.Automaton("""{"properties":{"a":{"type":"number"},"b":{"type":"number"},"c":{"type":"number"}},"required":["b"]}""").Accepts(json));

    [Theory]
    [InlineData("\"plain\"", true)]
    [InlineData("\"\"", true)]
    [InlineData("\"say \\\"hi\\\"\"", true)]        // \"
    [InlineData("\"back\\\\slash\"", true)]         // \\
    [InlineData("\"line\\nbreak\\t\\r\\b\\f\\/\"", true)]
    [InlineData("\"caf\\u00e9 \\u00E9\"", true)]     // \u00e9
    [InlineData("\"café 日本 😀\"", true)]           // raw UTF-8, 2, 3 and 4 bytes
    [InlineData("\"raw\nnewline\"", false)]          // control characters must be escaped
    [InlineData("\"bad \\x escape\"", false)]
    [InlineData("\"short \\u12\"", false)]
    [InlineData("\"lone \\ud800 surrogate\"", false)]
    [InlineData("\"lone \\udc00 low\"", false)]
    [InlineData("\"pair \\ud83d\\ude00\"", true)]        // 😀 as json.dumps escapes it
    [InlineData("\"bad pair \\ud83d\\u0041\"", false)]
    [InlineData("\"unterminated", false)]
    [InlineData("'single'", false)]
    public void Strings_with_escapes(string json, bool valid) =>
        Assert.Equal(valid, ConstraintTestSupport.Automaton("""{"type":"string"}""").Accepts(json));

    [Fact]
    public void Strings_hold_only_well_formed_utf8()
    {
        var automaton = ConstraintTestSupport.Automaton("""{"type":"string"}""");
        byte[][] bad = [[0x22, 0xC3, 0x22], [0x22, 0xC0, 0x80, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], [0x22, 0x80, 0x22]];
        foreach (var bytes in bad) Assert.False(automaton.Accepts(bytes), Convert.ToHexString(bytes));
        Assert.True(automaton.Accepts([0x22, 0xC3, 0xA9, 0x22]));   // "é"
        // A token that ends inside a character leaves the automaton alive, waiting for the rest.
        Assert.NotEqual(GrammarAutomaton.Dead, automaton.Advance(automaton.Initial, [0x22, 0xE6, 0x97]));
    }

    [Theory]
    [InlineData("0", true)]
    [InlineData("-0", true)]
    [InlineData("12", true)]
    [InlineData("-12.5", true)]
    [InlineData("1e10", true)]
    [InlineData("1E-7", true)]
    [InlineData("2.5e+3", true)]
    [InlineData("-0.001", true)]
    [InlineData("1234567890123456", true)]     // 16 digits: the bound
    [InlineData("12345678901234567", false)]   // 17
    [InlineData("01", false)]
    [InlineData("+1", false)]
    [InlineData("1.", false)]
    [InlineData(".5", false)]
    [InlineData("1e", false)]
    [InlineData("--1", false)]
    [InlineData("1e99", true)]
    [InlineData("1e999", false)]               // exponent digits bounded at 2: always a finite double
    [InlineData("NaN", false)]
    [InlineData("\"1\"", false)]
    public void Numbers(string json, bool valid) =>
        Assert.Equal(valid, ConstraintTestSupport.Automaton("""{"type":"number"}""").Accepts(json));

    [Theory]
    [InlineData("-5", true)]
    [InlineData("0", true)]
    [InlineData("123", true)]
    [InlineData("1.0", false)]
    [InlineData("1e2", false)]
    [InlineData("-", false)]
    public void Integers_have_no_fraction_or_exponent(string json, bool valid) =>
        Assert.Equal(valid, ConstraintTestSupport.Automaton("""{"type":"integer"}""").Accepts(json));

    [Theory]
    [InlineData("\"red\"", true)]
    [InlineData("3", true)]
    [InlineData("null", true)]
    [InlineData("""{"a":[1,"x"]}""", true)]
    [InlineData("\"say \\\"q\\\"\"", true)]
    [InlineData("\"blue\"", false)]
    [InlineData("\"re\"", false)]
    [InlineData("30", false)]
    [InlineData("""{"a": [1, "x"]}""", false)]     // enum values are written compactly
    public void Enum_of_any_type(string json, bool valid) =>
        Assert.Equal(valid, ConstraintTestSupport.Automaton("""{"enum":["red","green",3,null,{"a":[1,"x"]},"say \"q\""]}""").Accepts(json));

    [Theory]
    [InlineData("""{"type":"string","enum":["a","b",1]}""", "1", false)]   // enum filtered by type
    [InlineData("""{"type":"string","enum":["a","b",1]}""", "\"b\"", true)]
    [InlineData("""{"const":"fixed"}""", "\"fixed\"", true)]
    [InlineData("""{"const":"fixed"}""", "\"other\"", false)]
    [InlineData("""{"const":{"k":true}}""", """{"k":true}""", true)]
    [InlineData("""{"type":["string","null"]}""", "null", true)]
    [InlineData("""{"type":["string","null"]}""", "\"s\"", true)]
    [InlineData("""{"type":["string","null"]}""", "1", false)]
    [InlineData("""{"type":"boolean"}""", "false", true)]
    [InlineData("""{"type":"boolean"}""", "False", false)]
    [InlineData("""{"type":"null"}""", "null", true)]
    [InlineData("""{}""", """[1,{"a":null},"s",true]""", true)]
    [InlineData("""true""", "-2.5e3", true)]
    [InlineData("""{"type":"object","additionalProperties":{"type":"integer"}}""", """{"x":1, "y":-2}""", true)]
    [InlineData("""{"type":"object","additionalProperties":{"type":"integer"}}""", """{"x":"a"}""", false)]
    [InlineData("""{"type":"object"}""", """{"any":{"thing":[]}}""", true)]
    [InlineData("""{"type":"object","additionalProperties":false}""", "{ }", true)]
    [InlineData("""{"type":"object","additionalProperties":false}""", """{"a":1}""", false)]
    public void Const_nullable_and_open_objects(string schema, string json, bool valid) =>
        Assert.Equal(valid, ConstraintTestSupport.Automaton(schema).Accepts(json));

    [Theory]
    [InlineData("[true]", true)]
    [InlineData("[true,false,true]", true)]
    [InlineData("[ true , false ]", true)]
    [InlineData("[]", false)]                         // minItems 1
    [InlineData("[true,true,true,true]", false)]      // maxItems 3
    [InlineData("[1]", false)]
    [InlineData("[true,]", false)]
    public void Arrays_with_item_bounds(string json, bool valid) =>
        Assert.Equal(valid, ConstraintTestSupport.Automaton("""{"type":"array","items":{"type":"boolean"},"minItems":1,"maxItems":3}""").Accepts(json));

    [Theory]
    [InlineData("\"s\"", true)]
    [InlineData("""{"x":1}""", true)]
    [InlineData("""{"x":1,"y":[2]}""", true)]
    [InlineData("1", false)]
    [InlineData("{}", false)]
    public void AnyOf_alternatives(string json, bool valid) =>
        Assert.Equal(valid, ConstraintTestSupport.Automaton("""
            {"anyOf":[{"type":"string"},{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"array","items":{"type":"integer"}}},"required":["x"]}]}
            """).Accepts(json));

    const string Tree = """
        {"$defs":{"node":{"type":"object","properties":{"value":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}},
          "required":["value","children"],"additionalProperties":false}},
         "$ref":"#/$defs/node"}
        """;

    [Theory]
    [InlineData("""{"value":1,"children":[]}""", true)]
    [InlineData("""{"value":1,"children":[{"value":2,"children":[{"value":3,"children":[]}]},{"value":4,"children":[]}]}""", true)]
    [InlineData("""{"value":1,"children":[{"value":2,"children":[{"value":3}]}]}""", false)]   // deep node missing children
    [InlineData("""{"value":1,"children":[{"value":"2","children":[]}]}""", false)]
    public void Ref_recursion_through_defs(string json, bool valid) =>
        Assert.Equal(valid, ConstraintTestSupport.Automaton(Tree).Accepts(json));

    [Theory]
    [InlineData("""{"next":null}""", true)]
    [InlineData("""{"next":{"next":{"next":null}}}""", true)]
    [InlineData("""{"next":{"next":1}}""", false)]
    public void Ref_to_the_root(string json, bool valid) =>
        Assert.Equal(valid, ConstraintTestSupport.Automaton("""{"type":"object","properties":{"next":{"anyOf":[{"$ref":"#"},{"type":"null"}]}},"required":["next"]}""").Accepts(json));

    [Fact]
    public void Whitespace_runs_are_bounded()
    {
        var automaton = ConstraintTestSupport.Automaton("""{"type":"array","items":{"type":"integer"}}""");
        Assert.True(automaton.Accepts("[" + new string(' ', JsonGrammar.MaxWhitespace) + "1]"));
        Assert.False(automaton.Accepts("[" + new string(' ', JsonGrammar.MaxWhitespace + 1) + "1]"));
    }

    [Theory]
    [InlineData("{}", true)]
    [InlineData("""{"a":[1,{"b":null}],"c":"d","e":-1.5e3,"f":true}""", true)]
    [InlineData(""" {"nested":{"deeper":{"deepest":[[[]]]}}}""", true)]
    [InlineData("[]", false)]
    [InlineData("\"s\"", false)]
    [InlineData("""{"a":}""", false)]
    [InlineData("""{a:1}""", false)]
    public void Json_object_mode_takes_any_object(string json, bool valid) =>
        Assert.Equal(valid, new GrammarAutomaton(JsonSchemaConstraint.CompileJsonObject()).Accepts(json));

    [Fact]
    public void A_closed_object_is_complete_and_a_number_may_go_on()
    {
        var automaton = ConstraintTestSupport.Automaton(Person);
        int state = automaton.Advance(automaton.Initial, """{"name":"A","age":1}"""u8);
        Assert.True(automaton.IsComplete(state));
        var number = ConstraintTestSupport.Automaton("""{"type":"number"}""");
        int twelve = number.Advance(number.Initial, "12"u8);
        Assert.True(number.IsAccepting(twelve));
        Assert.False(number.IsComplete(twelve));
    }

    public static TheoryData<string, string> Refusals => new()
    {
        { """{"type":"object","properties":{"age":{"type":"integer","minimum":0}}}""", "response_format.json_schema.schema.properties.age: keyword 'minimum' is not supported." },
        { """{"type":"object","properties":{"code":{"type":"string","pattern":"^[A-Z]+$"}}}""", "response_format.json_schema.schema.properties.code: keyword 'pattern' is not supported." },
        { """{"type":"string","format":"date-time"}""", "response_format.json_schema.schema: keyword 'format' is not supported." },
        { """{"oneOf":[{"type":"string"}]}""", "response_format.json_schema.schema: keyword 'oneOf' is not supported." },
        { """{"allOf":[{"type":"string"}]}""", "response_format.json_schema.schema: keyword 'allOf' is not supported." },
        { """{"type":"array","items":{"not":{"type":"null"}}}""", "response_format.json_schema.schema.items: keyword 'not' is not supported." },
        { """{"anyOf":[{"type":"string"},{"type":"string","maxLength":3}]}""", "response_format.json_schema.schema.anyOf[1]: keyword 'maxLength' is not supported." },
        { """{"$defs":{"a":{"type":"integer","multipleOf":2}},"$ref":"#/$defs/a"}""", "response_format.json_schema.schema.$defs.a: keyword 'multipleOf' is not supported." },
        { """{"$ref":"https://example.com/s.json"}""", "response_format.json_schema.schema.$ref: 'https://example.com/s.json' is not a local reference (only '#…' JSON pointers are supported)." },
        { """{"$ref":"#/$defs/missing"}""", "response_format.json_schema.schema.$ref: '#/$defs/missing' does not resolve in the schema." },
        { """{"$defs":{"a":{"anyOf":[{"$ref":"#/$defs/a"},{"type":"null"}]}},"$ref":"#/$defs/a"}""", "response_format.json_schema.schema.$defs.a.anyOf[0].$ref: '#/$defs/a' refers back to itself before any object or array, so no value can satisfy it." },
        { """{"type":"object","properties":{"a":{}},"required":["b"]}""", "response_format.json_schema.schema.required: 'b' is not in properties." },
        { """{"type":"text"}""", "response_format.json_schema.schema.type: 'text' is not one of object, array, string, number, integer, boolean, null." },
        { """{"type":"array","minItems":3,"maxItems":2}""", "response_format.json_schema.schema: minItems 3 is above maxItems 2." },
        { """{"type":"array","items":[{"type":"string"}]}""", "response_format.json_schema.schema.items: must be a schema (tuple forms are not supported)." },
        { """{"type":"integer","enum":["a"]}""", "response_format.json_schema.schema: no 'enum'/'const' value is of the schema's 'type'." },
        { """{"type":"object","properties":{"a":{"$ref":"#/$defs/x","type":"string"}},"$defs":{"x":{}}}""", "response_format.json_schema.schema.properties.a: keyword '$ref' cannot be combined with 'type'." },
        { "false", "response_format.json_schema.schema: the schema false admits no value." },
        { "[1]", "response_format.json_schema.schema: a schema must be an object or a boolean, not array." },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Unsupported_or_malformed_schemas_are_one_line_errors_naming_the_path(string schema, string message)
    {
        using var doc = JsonDocument.Parse(schema);
        var e = Assert.Throws<ArgumentException>(() => JsonSchemaConstraint.Compile(doc.RootElement, "response_format.json_schema.schema"));
        Assert.Equal(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Annotations_are_ignored()
    {
        var automaton = ConstraintTestSupport.Automaton("""
            {"$schema":"https://json-schema.org/draft/2020-12/schema","title":"T","description":"d","type":"object",
             "properties":{"a":{"type":"string","description":"the a","default":"x","examples":["y"]}},"required":["a"],"additionalProperties":false}
            """);
        Assert.True(automaton.Accepts("""{"a":"z"}"""));
    }
}
