using Lathe.Formats.Jinja;

namespace Lathe.Tests.Formats;

/// <summary>One Jinja construct per case (whitespace control, literals, operators, undefined, loops, scoping,
/// macros, filters, tests, Python string methods, HF's globals, errors), each against the output jinja2 3.1.2 gave
/// with Hugging Face's settings in scripts/fixtures/make_jinja_reference.py (fixtures/jinja/units.json).</summary>
public class JinjaTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var u in JinjaFixtures.Load("units.json").EnumerateArray()) data.Add(u.GetProperty("name").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Renders_as_jinja2_does(string name)
    {
        var u = JinjaFixtures.Load("units.json").EnumerateArray().Single(x => x.GetProperty("name").GetString() == name);
        JinjaFixtures.Check(u.GetProperty("template").GetString()!, u.GetProperty("context"), u);
    }

    [Fact]
    public void The_fixture_covers_every_construct_the_brief_names()
    {
        var names = JinjaFixtures.Load("units.json").EnumerateArray().Select(x => x.GetProperty("name").GetString()!).ToHashSet();
        Assert.True(names.Count >= 100, $"only {names.Count} unit cases");
        foreach (var must in new[] { "raw_block", "for_prev_next", "namespace_in_loop", "call_block", "filter_block", "raise_exception", "strftime_now", "filter_tojson_arguments" })
            Assert.Contains(must, names);
    }

    [Fact]
    public void Errors_name_the_construct_and_its_line()
    {
        var e = Assert.Throws<JinjaException>(() => JinjaTemplate.Parse("a\nb\n{{ x | frobnicate }}"));
        Assert.Equal("chat template line 3: filter 'frobnicate' is not supported", e.Message);
        Assert.Equal(3, e.TemplateLine);

        e = Assert.Throws<JinjaException>(() => JinjaTemplate.Parse("{% if x %}\n{% include 'other' %}{% endif %}"));
        Assert.Equal("chat template line 2: tag '{% include %}' is not supported in chat templates", e.Message);

        e = Assert.Throws<JinjaException>(() => JinjaTemplate.Parse("\n\n{% for m in messages %}x"));
        Assert.Contains("line 3", e.Message);
        Assert.Contains("{% for %}", e.Message);
    }

    [Fact]
    public void Raise_exception_carries_the_template_message_and_line()
    {
        var t = JinjaTemplate.Parse("{% for m in messages %}\n{% if m.role == 'bad' %}\n{{ raise_exception('Role ' ~ m.role ~ ' is not allowed') }}\n{% endif %}{% endfor %}");
        var messages = new List<object?> { new Dictionary<string, object?> { ["role"] = "bad" } };
        var e = Assert.Throws<JinjaException>(() => t.Render(new Dictionary<string, object?> { ["messages"] = messages }));
        Assert.Equal("chat template line 3: Role bad is not allowed", e.Message);
        Assert.True(e.RaisedByTemplate);
    }

    [Fact]
    public void Plain_dotnet_values_are_accepted_as_context()
    {
        var t = JinjaTemplate.Parse("{{ n + 1 }} {{ xs | join(',') }} {{ d.k }} {{ f }}");
        var context = new Dictionary<string, object?>
        {
            ["n"] = 41, ["xs"] = new[] { "a", "b" }, ["d"] = new Dictionary<string, object?> { ["k"] = true }, ["f"] = 0.5,
        };
        Assert.Equal("42 a,b True 0.5", t.Render(context));
    }

    [Fact]
    public void A_template_renders_the_same_twice()
    {
        var source = JinjaFixtures.Load("templates.json").GetProperty("Qwen-Qwen2.5-7B-Instruct").GetString()!;
        var context = JinjaFixtures.Context(JinjaFixtures.Load("conversations.json").GetProperty("tools_call_and_result"));
        var t = JinjaTemplate.Parse(source);
        Assert.Equal(t.Render(context, JinjaFixtures.Now), t.Render(context, JinjaFixtures.Now));
    }
}
