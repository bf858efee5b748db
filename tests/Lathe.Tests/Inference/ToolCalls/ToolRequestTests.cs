using System.Text.Json;
using Lathe.Formats;
using Lathe.Inference.ToolCalls;

namespace Lathe.Tests.Inference.ToolCalls;

/// <summary>OpenAI's tools and tool_choice fields read into their types; bad input is a one-line error naming the field.</summary>
public class ToolRequestTests
{
    const string Tools = """
        [{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}},"strict":true}},
         {"type":"function","function":{"name":"now"}}]
        """;

    [Fact]
    public void Tools_and_choices_are_read()
    {
        using var doc = JsonDocument.Parse(Tools);
        var tools = ToolList.Parse(doc.RootElement);
        Assert.Equal(2, tools.Count);
        Assert.Equal(new ChatTool("get_weather", "Weather", """{"type":"object","properties":{"city":{"type":"string"}}}"""), tools[0]);
        Assert.Equal(new ChatTool("now"), tools[1]);
        Assert.Equal(ToolChoice.Auto, ToolChoice.Parse(null, tools));
        Assert.Equal(ToolChoice.None, ToolChoice.Parse(null, []));
        using var required = JsonDocument.Parse("\"required\"");
        Assert.Equal(ToolChoice.Required, ToolChoice.Parse(required.RootElement, tools));
        using var named = JsonDocument.Parse("""{"type":"function","function":{"name":"now"}}""");
        Assert.Equal(new ToolChoice(ToolChoiceMode.Function, "now"), ToolChoice.Parse(named.RootElement, tools));
    }

    [Theory]
    [InlineData("""{"type":"function"}""", "tools: must be an array.")]
    [InlineData("""[{"type":"retrieval"}]""", "tools[0].type: must be \"function\".")]
    [InlineData("""[{"type":"function","function":{"name":"has space"}}]""", "tools[0].function.name: must be 1–64 letters, digits, '_' or '-'.")]
    [InlineData("""[{"type":"function","function":{"name":"a"}},{"type":"function","function":{"name":"a"}}]""", "tools[1].function.name: 'a' is given twice.")]
    [InlineData("""[{"type":"function","function":{"name":"a","parameters":"{}"}}]""", "tools[0].function.parameters: must be a JSON Schema object.")]
    [InlineData("""[{"type":"function","function":{"name":"a","description":5}}]""", "tools[0].function.description: must be a string.")]
    public void Bad_tools(string json, string message)
    {
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(message, Assert.Throws<ArgumentException>(() => ToolList.Parse(doc.RootElement)).Message);
    }

    [Theory]
    [InlineData("\"sometimes\"", "tool_choice: 'sometimes' is not one of none, auto, required (or a function object).")]
    [InlineData("""{"type":"function","function":{"name":"later"}}""", "tool_choice.function.name: 'later' is not one of the tools.")]
    [InlineData("""{"type":"function"}""", "tool_choice.function.name: a function name is required.")]
    [InlineData("""{"type":"tool"}""", "tool_choice.type: must be \"function\".")]
    [InlineData("3", "tool_choice: must be a string or an object.")]
    public void Bad_choices(string json, string message)
    {
        using var tools = JsonDocument.Parse(Tools);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(message, Assert.Throws<ArgumentException>(() => ToolChoice.Parse(doc.RootElement, ToolList.Parse(tools.RootElement))).Message);
    }

    [Fact]
    public void Required_without_tools_is_an_error()
    {
        using var doc = JsonDocument.Parse("\"required\"");
        Assert.Equal("tool_choice: 'required' needs tools, and none were given.", Assert.Throws<ArgumentException>(() => ToolChoice.Parse(doc.RootElement, [])).Message);
    }
}
