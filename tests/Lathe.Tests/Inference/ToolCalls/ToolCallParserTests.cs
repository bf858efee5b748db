using System.Text.RegularExpressions;
using Lathe.Inference.ToolCalls;

namespace Lathe.Tests.Inference.ToolCalls;

public class ToolCallParserTests
{
    [Fact]
    public void One_call_and_no_text()
    {
        var reply = ToolCallParser.Parse("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", seed: 7);
        Assert.Null(reply.Content);
        var call = Assert.Single(reply.ToolCalls);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("{\"city\": \"Paris\"}", call.ArgumentsJson);
        Assert.Matches(new Regex("^call_[A-Za-z0-9]{24}$"), call.Id);
    }

    [Fact]
    public void Text_around_several_calls_is_the_content()
    {
        var reply = ToolCallParser.Parse("I'll check both.\n<tool_call>{\"name\":\"a\",\"arguments\":{}}</tool_call>\n<tool_call>{\"name\":\"b\",\"arguments\":{\"x\":[1]}}</tool_call>\n", seed: 1);
        Assert.Equal("I'll check both.", reply.Content);
        Assert.Equal(["a", "b"], reply.ToolCalls.Select(c => c.Name));
        Assert.Equal("{\"x\":[1]}", reply.ToolCalls[1].ArgumentsJson);
        Assert.NotEqual(reply.ToolCalls[0].Id, reply.ToolCalls[1].Id);
    }

    [Theory]
    [InlineData("<tool_call>{not json}</tool_call>")]
    [InlineData("<tool_call>{\"name\": \"a\"}</tool_call>")]                       // no arguments
    [InlineData("<tool_call>{\"name\": 3, \"arguments\": {}}</tool_call>")]
    [InlineData("<tool_call>{\"name\": \"a\", \"arguments\": [1]}</tool_call>")]
    [InlineData("<tool_call>[\"a\"]</tool_call>")]
    public void A_block_that_is_not_a_call_stays_text(string text)
    {
        var reply = ToolCallParser.Parse(text, seed: 1);
        Assert.Empty(reply.ToolCalls);
        Assert.Equal(text, reply.Content);
    }

    [Fact]
    public void An_unclosed_last_call_and_string_arguments_are_read()
    {
        var cut = ToolCallParser.Parse("<tool_call>\n{\"name\": \"a\", \"arguments\": {\"k\": 1}}\n", seed: 1);
        Assert.Equal("{\"k\": 1}", Assert.Single(cut.ToolCalls).ArgumentsJson);
        var stringArguments = ToolCallParser.Parse("<tool_call>{\"name\": \"a\", \"arguments\": \"{\\\"k\\\": 2}\"}</tool_call>", seed: 1);
        Assert.Equal("{\"k\": 2}", Assert.Single(stringArguments.ToolCalls).ArgumentsJson);
    }

    [Fact]
    public void Plain_text_has_no_calls()
    {
        var reply = ToolCallParser.Parse("  Hello.\n", seed: 1);
        Assert.Equal("Hello.", reply.Content);
        Assert.Empty(reply.ToolCalls);
    }

    [Fact]
    public void Ids_follow_the_seed_and_the_choice()
    {
        const string text = "<tool_call>{\"name\":\"a\",\"arguments\":{}}</tool_call>";
        string Id(ulong seed, int choice) => ToolCallParser.Parse(text, seed, choice).ToolCalls[0].Id;
        Assert.Equal(Id(5, 0), Id(5, 0));
        Assert.NotEqual(Id(5, 0), Id(5, 1));
        Assert.NotEqual(Id(5, 0), Id(6, 0));
    }
}
