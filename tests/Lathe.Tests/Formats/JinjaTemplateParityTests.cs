namespace Lathe.Tests.Formats;

/// <summary>Real chat templates (Llama 3.x, Qwen 2.5/3/QwQ, Mistral Nemo/Small 3.2/Devstral, Gemma 2, Phi-3.5,
/// Hermes tool use, DeepSeek R1 distills, functionary, granite, gpt-oss, firefunction, Command R7B, SmolLM3) times
/// conversations (system or not, multi-turn, tools with calls and results, unicode, content parts, reasoning,
/// template kwargs, role errors): Lathe's rendering is jinja2's, character for character, or an error where jinja2
/// raised one (fixtures/jinja/parity.json from scripts/fixtures/make_jinja_reference.py).</summary>
public class JinjaTemplateParityTests
{
    public static TheoryData<string, string> Renders()
    {
        var data = new TheoryData<string, string>();
        foreach (var p in JinjaFixtures.Load("parity.json").EnumerateArray())
            data.Add(p.GetProperty("template").GetString()!, p.GetProperty("conversation").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(Renders))]
    public void Renders_as_jinja2_does(string template, string conversation)
    {
        var expected = JinjaFixtures.Load("parity.json").EnumerateArray()
            .Single(p => p.GetProperty("template").GetString() == template && p.GetProperty("conversation").GetString() == conversation);
        string source = JinjaFixtures.Load("templates.json").GetProperty(template).GetString()!;
        JinjaFixtures.Check(source, JinjaFixtures.Load("conversations.json").GetProperty(conversation), expected);
    }
}
