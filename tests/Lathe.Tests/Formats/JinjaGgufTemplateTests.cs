using System.CommandLine;
using System.Text.Json;
using Lathe.Cli;
using Lathe.Cli.Verbs;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Tests.Cli;
using Lathe.Tests.Data;
using Lathe.Tests.Inference;

namespace Lathe.Tests.Formats;

/// <summary>A GGUF model carrying a real chat template: the prompt Lathe renders and sends for a conversation is
/// jinja2's rendering of that template (fixtures/jinja/parity.json; the fixture model's BOS and EOS are "&lt;s&gt;" and
/// "&lt;/s&gt;", the token texts the reference used), and a template Lathe cannot run fails at load in one line.</summary>
[Collection(nameof(ConsoleCapture))]
public class JinjaGgufTemplateTests
{
    // The SentencePiece fixture model with its chat template replaced.
    static string ModelWithTemplate(TempDir dir, string template)
    {
        using var source = GgufFile.Open(GgufParityTests.Fixture("spm-f16.gguf"));
        var w = new GgufWriter();
        foreach (var (key, value) in source.Metadata)
            if (key != "tokenizer.chat_template") w.Add(key, value is object[] items ? Typed(items) : value);
        w.Add("tokenizer.chat_template", template);
        foreach (var t in source.Tensors) w.AddTensor(t.Name, t.Dims, t.Type, source.Bytes(t).ToArray());
        string path = dir.File("model.gguf");
        w.Save(path);
        return path;
    }

    static Array Typed(object[] items)
    {
        var a = Array.CreateInstance(items[0].GetType(), items.Length);
        for (int i = 0; i < items.Length; i++) a.SetValue(items[i], i);
        return a;
    }

    // A conversation of the reference script as Lathe's chat types.
    static (List<ChatMessage> Messages, List<ChatTool>? Tools) Conversation(string name)
    {
        var c = JinjaFixtures.Load("conversations.json").GetProperty(name);
        Assert.True(c.GetProperty("add_generation_prompt").GetBoolean());
        var messages = new List<ChatMessage>();
        foreach (var m in c.GetProperty("messages").EnumerateArray())
        {
            var content = m.GetProperty("content");
            var message = new ChatMessage(m.GetProperty("role").GetString()!, content.ValueKind == JsonValueKind.String ? content.GetString()! : "");
            if (m.TryGetProperty("tool_calls", out var calls))
                message = message with
                {
                    ToolCalls = calls.EnumerateArray().Select(call => new ChatToolCall(call.GetProperty("function").GetProperty("name").GetString()!,
                        call.GetProperty("function").GetProperty("arguments").GetRawText(), call.GetProperty("id").GetString())).ToList(),
                };
            if (m.TryGetProperty("tool_call_id", out var id)) message = message with { ToolCallId = id.GetString() };
            messages.Add(message);
        }
        List<ChatTool>? tools = c.GetProperty("tools").ValueKind == JsonValueKind.Null ? null
            : c.GetProperty("tools").EnumerateArray().Select(t => t.GetProperty("function")).Select(f => new ChatTool(
                f.GetProperty("name").GetString()!, f.GetProperty("description").GetString(), f.GetProperty("parameters").GetRawText())).ToList();
        return (messages, tools);
    }

    static string Expected(string template, string conversation) =>
        JinjaFixtures.Load("parity.json").EnumerateArray()
            .Single(p => p.GetProperty("template").GetString() == template && p.GetProperty("conversation").GetString() == conversation)
            .GetProperty("output").GetString()!;

    [Theory]
    [InlineData("meta-llama-Llama-3.1-8B-Instruct", "tools_call_and_result")]
    [InlineData("meta-llama-Llama-3.1-8B-Instruct", "multi_turn")]
    [InlineData("Qwen-Qwen2.5-7B-Instruct", "tools_call_and_result")]
    [InlineData("Qwen-Qwen2.5-7B-Instruct", "unicode_and_quotes")]
    [InlineData("mistralai-Mistral-Nemo-Instruct-2407", "tools_call_and_result")]
    [InlineData("google-gemma-2-2b-it", "single_user")]
    [InlineData("microsoft-Phi-3.5-mini-instruct", "multi_turn")]
    [InlineData("NousResearch-Hermes-3-Llama-3.1-8B-tool_use", "tools_call_and_result")]
    [InlineData("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "reasoning_in_history")]
    public void A_gguf_models_prompt_is_its_templates_jinja2_rendering(string template, string conversation)
    {
        using var dir = new TempDir();
        string source = JinjaFixtures.Load("templates.json").GetProperty(template).GetString()!;
        using var loaded = ModelLoader.Load(ModelWithTemplate(dir, source));
        var chat = ModelChatTemplate.For(loaded);
        Assert.True(chat.IsJinja);
        var (messages, tools) = Conversation(conversation);
        string expected = Expected(template, conversation);
        Assert.DoesNotContain("strftime_now", source);   // today's date here; the parity tests pin the clock
        Assert.Equal(expected, chat.Render(messages, tools: tools));
        Assert.Equal(loaded.Encode(expected), loaded.Encode(chat.Render(messages, tools: tools)));
    }

    [Fact]
    public void The_chat_session_sends_the_rendered_prompt()
    {
        using var dir = new TempDir();
        const string template = "Qwen-Qwen2.5-7B-Instruct";
        using var loaded = ModelLoader.Load(ModelWithTemplate(dir, JinjaFixtures.Load("templates.json").GetProperty(template).GetString()!));
        var (messages, _) = Conversation("system_and_user");
        using var session = new ChatSession(loaded, ModelChatTemplate.For(loaded), messages[0].Content);
        _ = session.ReplyAsync(messages[1].Content, 1, new SamplingOptions { Temperature = 0 }).ToBlockingEnumerable().ToList();
        Assert.Equal(loaded.Encode(Expected(template, "system_and_user")).Length, session.PromptTokensProcessed);
    }

    [Fact]
    public void A_template_Lathe_cannot_run_fails_at_load_in_one_line()
    {
        using var dir = new TempDir();
        string path = ModelWithTemplate(dir, "{% for m in messages %}\n{{ m.content | frobnicate }}{% endfor %}");
        using var loaded = ModelLoader.Load(path);
        var e = Assert.Throws<InvalidDataException>(() => ModelChatTemplate.For(loaded));
        Assert.Equal($"{path}: tokenizer.chat_template: chat template line 2: filter 'frobnicate' is not supported", e.Message);
    }

    [Fact]
    public void The_family_still_gives_end_of_turn_and_an_unknown_one_ends_at_eos()
    {
        using var dir = new TempDir();
        using (var llama = ModelLoader.Load(ModelWithTemplate(dir, JinjaFixtures.Load("templates.json").GetProperty("meta-llama-Llama-3.1-8B-Instruct").GetString()!)))
            Assert.Equal(["<|eot_id|>"], ModelChatTemplate.For(llama).EndOfTurn);
        using var dir2 = new TempDir();
        using var plain = ModelLoader.Load(ModelWithTemplate(dir2, "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"));
        var chat = ModelChatTemplate.For(plain);
        Assert.Equal(["</s>"], chat.EndOfTurn);
        Assert.Equal("user: hi\n", chat.Render([new ChatMessage("user", "hi")]));
        Assert.Throws<InvalidDataException>(() => chat.RenderForTraining([new ChatMessage("user", "hi"), new ChatMessage("assistant", "yo")]));
    }

    static (int Code, string Stderr) Chat(string model, string input)
    {
        var root = new Command("lathe") { ChatVerb.Create() };
        var stdin = Console.In;
        Console.SetIn(new StringReader(input));
        try
        {
            using var capture = new ConsoleCapture();
            int code = CliRunner.Run(root, ["chat", "--model", model, "--threads", "1", "--seed", "3", "--max-tokens", "2"]);
            return (code, capture.Stderr);
        }
        finally { Console.SetIn(stdin); }
    }

    [Fact]
    public void Chat_on_a_gguf_runs_its_template_and_a_bad_one_is_a_one_line_exit_2()
    {
        using var dir = new TempDir();
        const string template = "Qwen-Qwen2.5-7B-Instruct";
        string good = ModelWithTemplate(dir, JinjaFixtures.Load("templates.json").GetProperty(template).GetString()!);
        var (code, stderr) = Chat(good, "Hello!\n");
        Assert.True(code == 0, stderr);
        Assert.Contains("chat: template chatml (the model's own Jinja template)", stderr);
        using (var loaded = ModelLoader.Load(good))
            Assert.Contains($"{loaded.Encode(Expected(template, "single_user")).Length} new prompt tokens", stderr);

        using var badDir = new TempDir();
        string bad = ModelWithTemplate(badDir, "{% for m in messages %}{% include 'turn.j2' %}{% endfor %}");
        (code, stderr) = Chat(bad, "Hello!\n");
        Assert.Equal(2, code);
        Assert.Equal($"lathe: {bad}: tokenizer.chat_template: chat template line 1: tag '{{% include %}}' is not supported in chat templates", stderr.Trim());
    }
}
