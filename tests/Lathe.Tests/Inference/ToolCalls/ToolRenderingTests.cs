using Lathe.Formats;

namespace Lathe.Tests.Inference.ToolCalls;

/// <summary>Tools, assistant tool calls and tool results rendered by every template family, against the expected
/// text written out here by hand (the Hermes format: a &lt;tools&gt; block in the system turn, &lt;tool_call&gt; blocks
/// in the assistant's turn, &lt;tool_response&gt; blocks in a user turn).</summary>
public class ToolRenderingTests
{
    static readonly ChatTool[] Tools =
        [new("get_weather", "Weather in a city", """{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""")];

    static readonly ChatMessage[] Conversation =
    [
        new("system", "Be brief."),
        new("user", "Weather in Paris and Rome?"),
        new("assistant", "") { ToolCalls = [new("get_weather", """{"city":"Paris"}""", "call_1"), new("get_weather", """{ "city" : "Rome" }""", "call_2")] },
        new("tool", "18C") { ToolCallId = "call_1" },
        new("tool", "21C") { ToolCallId = "call_2" },
    ];

    const string System = """
        Be brief.

        # Tools

        You may call one or more functions to assist with the user query.

        You are provided with function signatures within <tools></tools> XML tags:
        <tools>
        {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
        </tools>

        For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
        <tool_call>
        {"name": <function-name>, "arguments": <args-json-object>}
        </tool_call>
        """;

    const string Calls = """
        <tool_call>
        {"name": "get_weather", "arguments": {"city": "Paris"}}
        </tool_call>
        <tool_call>
        {"name": "get_weather", "arguments": {"city": "Rome"}}
        </tool_call>
        """;

    const string Results = """
        <tool_response>
        18C
        </tool_response>
        <tool_response>
        21C
        </tool_response>
        """;

    const string User = "Weather in Paris and Rome?";

    public static TheoryData<string, string> Expected => new()
    {
        { "chatml", $"<|im_start|>system\n{System}<|im_end|>\n<|im_start|>user\n{User}<|im_end|>\n<|im_start|>assistant\n{Calls}<|im_end|>\n<|im_start|>user\n{Results}<|im_end|>\n<|im_start|>assistant\n" },
        { "llama3", $"<|start_header_id|>system<|end_header_id|>\n\n{System}<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n{User}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n{Calls}<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n{Results}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n" },
        { "llama2", $"[INST] <<SYS>>\n{System}\n<</SYS>>\n\n{User} [/INST] {Calls}</s>[INST] {Results} [/INST]" },
        { "mistral", $"[INST] {System}\n\n{User} [/INST] {Calls}</s>[INST] {Results} [/INST]" },
        { "zephyr", $"<|system|>\n{System}</s>\n<|user|>\n{User}</s>\n<|assistant|>\n{Calls}</s>\n<|user|>\n{Results}</s>\n<|assistant|>\n" },
        { "phi3", $"<|system|>\n{System}<|end|>\n<|user|>\n{User}<|end|>\n<|assistant|>\n{Calls}<|end|>\n<|user|>\n{Results}<|end|>\n<|assistant|>\n" },
        { "gemma", $"<start_of_turn>user\n{System}\n\n{User}<end_of_turn>\n<start_of_turn>model\n{Calls}<end_of_turn>\n<start_of_turn>user\n{Results}<end_of_turn>\n<start_of_turn>model\n" },
        { "plain", $"{System}\nUser: {User}\nAssistant: {Calls}\nUser: {Results}\nAssistant:" },
    };

    [Theory]
    [MemberData(nameof(Expected))]
    public void Every_family_renders_tools_calls_and_results(string family, string expected) =>
        Assert.Equal(expected, ChatTemplate.Named(family).Render(Conversation, tools: Tools));

    [Fact]
    public void Without_a_system_message_the_tools_get_one_and_text_precedes_calls()
    {
        ChatMessage[] messages =
        [
            new("user", "Hi"),
            new("assistant", "Let me check.") { ToolCalls = [new("get_weather", "{}")] },
        ];
        string tools = System["Be brief.\n\n".Length..];
        Assert.Equal($"<|im_start|>system\n{tools}<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nLet me check.\n<tool_call>\n{{\"name\": \"get_weather\", \"arguments\": {{}}}}\n</tool_call><|im_end|>\n<|im_start|>assistant\n",
            ChatTemplate.Named("chatml").Render(messages, tools: Tools));
    }

    [Fact]
    public void An_empty_system_message_becomes_the_tools_block_alone()
    {
        string tools = System["Be brief.\n\n".Length..];
        Assert.StartsWith($"<|im_start|>system\n{tools}<|im_end|>\n<|im_start|>user\nHi",
            ChatTemplate.Named("chatml").Render([new("system", ""), new("user", "Hi")], tools: Tools));
    }

    [Fact]
    public void A_tool_without_parameters_and_non_ascii_text_are_written_as_json_dumps_does()
    {
        string rendered = ChatTemplate.Named("chatml").Render([new("user", "x")], tools: [new("ping", "Répond \"pong\"")]);
        Assert.Contains("\n{\"type\": \"function\", \"function\": {\"name\": \"ping\", \"description\": \"Répond \\\"pong\\\"\"}}\n</tools>", rendered);
    }

    [Fact]
    public void Training_pieces_make_the_calls_trainable()
    {
        var pieces = ChatTemplate.Named("chatml").RenderForTraining(Conversation[..3], tools: Tools);
        Assert.Equal(Calls + "<|im_end|>", pieces[^1].Text);
        Assert.True(pieces[^1].Trainable);
        Assert.Equal(ChatTemplate.Named("chatml").Render(Conversation[..2], tools: Tools), pieces[0].Text);
    }

    [Fact]
    public void Plain_messages_render_as_before() =>
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", ChatTemplate.Named("chatml").Render([new("user", "Hi")], tools: []));
}
