using Lathe.Knowledge;
using Lathe.Knowledge.Experiment;
using Lathe.Knowledge.Experiment.Arms;

namespace Lathe.Tests.Knowledge.Experiment;

/// <summary>The experiment's claim check of short answers over a hand-made graph: supported answers stand, contradicted
/// ones and unbacked ones (no such entity, no fact of the relation) do not, an ambiguous subject is checked against
/// every reading; and the retrieval prompt puts the asked fact first.</summary>
public class KgQuestionGroundingTests
{
    static InMemoryGraph Graph()
    {
        var g = new InMemoryGraph();
        g.AddRelation(new KgRelation("capital", "capital", TermKind.Entity, true, "The capital of {s} is {o}.", ["What is the capital of {s}?", "Which city is the capital of {s}?"]));
        g.AddRelation(new KgRelation("region", "region", TermKind.Entity, true, "{s} is in the region {o}.", ["Which region is {s} in?"]));
        g.AddEntity("country/FRA", "France", "country", "French Republic");
        g.AddEntity("country/GEO", "Georgia", "country");
        g.AddEntity("state/GA", "Georgia", "state");
        g.AddEntity("country/ATL", "Atlantis", "country");
        g.AddEntity("city/paris", "Paris", "city");
        g.AddEntity("city/lyon", "Lyon", "city");
        g.AddEntity("city/tbilisi", "Tbilisi", "city");
        g.AddEntity("city/atlanta", "Atlanta", "city");
        g.AddEntity("region/europe", "Europe", "region");
        g.Add("country/FRA", "capital", Term.Entity("city/paris"));
        g.Add("country/FRA", "region", Term.Entity("region/europe"));
        g.Add("country/GEO", "capital", Term.Entity("city/tbilisi"));
        g.Add("state/GA", "capital", Term.Entity("city/atlanta"));
        g.Add("country/ATL", "region", Term.Entity("region/europe"));
        return g;
    }

    static readonly KgQuestionGrounding Grounding = new(Graph(), null, [], 96);

    [Theory]
    [InlineData("What is the capital of France?", "Paris", AnswerCheck.Keep)]
    [InlineData("Which city is the capital of France?", "paris.", AnswerCheck.Keep)]
    [InlineData("What is the capital of France?", "Lyon", AnswerCheck.Contradicted)]
    [InlineData("What is the capital of Veloria?", "Paris", AnswerCheck.Unbacked)]        // no such entity
    [InlineData("Which city is the capital of Veloria?", "Paris", AnswerCheck.Unbacked)]  // "city" must not stand in for the subject
    [InlineData("What is the capital of Atlantis?", "Lyon", AnswerCheck.Unbacked)]       // an entity with no capital in the graph
    [InlineData("What is the capital of Georgia?", "Atlanta", AnswerCheck.Keep)]         // ambiguous: one reading's value
    [InlineData("What is the capital of Georgia?", "Tbilisi", AnswerCheck.Keep)]
    [InlineData("What is the capital of Georgia?", "Paris", AnswerCheck.Contradicted)]   // no reading's value
    public void Short_answers_are_checked_against_the_graph(string question, string answer, AnswerCheck expected) =>
        Assert.Equal(expected, Grounding.Check(question, answer));

    [Fact]
    public void The_retrieval_prompt_puts_the_asked_fact_first_and_an_unknown_subject_gets_no_facts()
    {
        Assert.Equal("Facts:\n- France is in the region Europe.\n- The capital of France is Paris.\nQuestion: Which region is France in?\nAnswer:",
            Grounding.RetrievalPrompt("Which region is France in?"));
        Assert.Equal("Question: What is the capital of Veloria?\nAnswer:", Grounding.RetrievalPrompt("What is the capital of Veloria?"));
        // A budget of one fact's worth keeps only the asked one.
        var tight = new KgQuestionGrounding(Graph(), null, [], ExperimentPrompts.ApproxTokens("- The capital of France is Paris.\n"));
        Assert.Equal("Facts:\n- The capital of France is Paris.\nQuestion: What is the capital of France?\nAnswer:", tight.RetrievalPrompt("What is the capital of France?"));
    }
}
