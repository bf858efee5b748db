using Lathe.Formats;
using Lathe.Knowledge;
using Lathe.Knowledge.Grounding;

namespace Lathe.Server.Tests;

/// <summary><c>serve --kg</c> over HTTP with a random-weight model: in constrain mode every choice answers with the
/// graph's object (whatever the weights prefer), a question the graph cannot answer gets the abstention, and in
/// retrieve mode the facts reach the prompt as a system message before the question (checked by the prompt's token
/// count, which is all the API shows of it).</summary>
[Collection("server")]
public class KnowledgeGroundingTests
{
    const string Chat = "/v1/chat/completions";

    static InMemoryGraph Graph()
    {
        var g = new InMemoryGraph();
        g.AddRelation(new KgRelation("capital", "capital", TermKind.Entity, true, "The capital of {s} is {o}.", ["What is the capital of {s}?"]));
        g.AddRelation(new KgRelation("borders", "borders", TermKind.Entity, false, "{s} borders {o}.", ["What does {s} border?"]));
        g.AddEntity("country/FRA", "France", "country").AddEntity("country/ESP", "Spain", "country").AddEntity("country/ITA", "Italy", "country")
         .AddEntity("country/UKR", "Ukraine", "country").AddEntity("city/paris", "Paris", "city");
        g.Add("country/FRA", "capital", Term.Entity("city/paris"));
        g.Add("country/FRA", "borders", Term.Entity("country/ESP"));
        g.Add("country/FRA", "borders", Term.Entity("country/ITA"));
        return g;
    }

    static object Ask(string question, int n = 4) =>
        new { messages = new[] { new { role = "user", content = question } }, n, temperature = 1.0, seed = 3, max_tokens = 40 };

    [Fact]
    public async Task Constrained_replies_are_the_graphs_answers_or_the_abstention()
    {
        await using var h = await ServerHarness.StartAsync(new ServerOptions { Knowledge = new KnowledgeGroundingOptions(Graph(), GroundingMode.Constrain) });
        foreach (var (question, answers) in new (string, string[])[]
        {
            ("What is the capital of France?", ["Paris"]),
            ("What does France border?", ["Spain", "Italy"]),
            ("What is the capital of Ukraine?", [GroundedPrompt.Abstain]),    // no such fact
            ("What is the capital of Atlantis?", [GroundedPrompt.Abstain]),   // no such entity
        })
        {
            var (status, body) = await h.PostAsync(Chat, Ask(question));
            Assert.True(status == 200, body.ToString());
            foreach (var choice in body.GetProperty("choices").EnumerateArray())
            {
                Assert.Contains(choice.GetProperty("message").GetProperty("content").GetString()!.Trim(), answers);
                Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
            }
        }
    }

    [Fact]
    public async Task Retrieval_adds_the_facts_as_a_system_message_before_the_question()
    {
        await using var h = await ServerHarness.StartAsync(new ServerOptions { Knowledge = new KnowledgeGroundingOptions(Graph(), GroundingMode.Retrieve) });
        const string question = "What is the capital of France?";
        var (status, body) = await h.PostAsync(Chat, Ask(question, n: 1));
        Assert.True(status == 200, body.ToString());
        var template = ChatTemplate.Detect(h.Model.ChatTemplate);
        string expected = template.Render([
            new ChatMessage("system", "Facts:\n- The capital of France is Paris.\n- France borders Spain.\n- France borders Italy."),
            new ChatMessage("user", question)]);
        Assert.Equal(h.Model.Encode(expected).Length, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }
}
