using System.Text.Json;
using Lathe.Formats.Jinja;

namespace Lathe.Tests.Formats;

/// <summary>The committed jinja2 reference outputs (scripts/fixtures/make_jinja_reference.py) and the one way the
/// tests compare Lathe's rendering with them.</summary>
internal static class JinjaFixtures
{
    /// <summary>The instant the reference script's strftime_now formats.</summary>
    public static readonly DateTime Now = new(2026, 1, 15, 10, 30, 45);

    /// <summary>A committed fixture, or one in LATHE_JINJA_FIXTURES when set (the reference script's --all output:
    /// every template llama.cpp collects).</summary>
    public static string Path(string name) =>
        System.IO.Path.Combine(Environment.GetEnvironmentVariable("LATHE_JINJA_FIXTURES") is { Length: > 0 } dir ? dir
            : System.IO.Path.Combine(AppContext.BaseDirectory, "Formats", "fixtures", "jinja"), name);

    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, JsonElement> Loaded = new();

    public static JsonElement Load(string name) => Loaded.GetOrAdd(name, n => JsonDocument.Parse(File.ReadAllText(Path(n))).RootElement);

    public static Dictionary<string, object?> Context(JsonElement context)
    {
        var values = new Dictionary<string, object?>();
        foreach (var p in context.EnumerateObject()) values[p.Name] = JinjaTemplate.FromJson(p.Value);
        return values;
    }

    /// <summary>Renders <paramref name="source"/> and checks it against one reference entry: the same text, or an
    /// error where jinja2 raised one — at parse time when jinja2 failed to compile, with the template's own message
    /// when it came from raise_exception.</summary>
    public static void Check(string source, JsonElement context, JsonElement expected)
    {
        if (expected.TryGetProperty("output", out var output))
        {
            var template = JinjaTemplate.Parse(source);
            Assert.Equal(output.GetString(), template.Render(Context(context), Now));
            return;
        }
        string error = expected.GetProperty("error").GetString()!;
        var e = Assert.ThrowsAny<JinjaException>(() =>
        {
            var template = JinjaTemplate.Parse(source);
            Assert.Equal("render", expected.GetProperty("phase").GetString());   // jinja2 compiled it too
            template.Render(Context(context), Now);
        });
        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith("chat template line ", e.Message);
        if (expected.GetProperty("raised").GetBoolean())
        {
            Assert.True(e.RaisedByTemplate, e.Message);
            Assert.EndsWith(": " + error, e.Message);
        }
    }
}
