using Lathe.Knowledge;
using Lathe.Knowledge.Grounding;

namespace Lathe.Tests.Knowledge.Grounding;

/// <summary>The retrieval prompt: the asked relation's facts first, the subject's other facts after, none beyond the
/// token budget, in the one grounded prompt format.</summary>
public class RetrievalPromptTests
{
    static readonly InMemoryGraph Graph = GroundingFixtures.Graph();
    static readonly QuestionReader Reader = new(Graph, new EntityLinker(Graph));

    // A word counter as the "tokenizer": the budget arithmetic is then checkable by hand.
    static int Words(string s) => s.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;

    [Fact]
    public void The_asked_relation_comes_first_then_the_other_facts()
    {
        var facts = RetrievalPrompt.Facts(Graph, Reader.Read("Which countries border France?"), Words, 1000);
        Assert.Equal([
            "France borders Belgium.", "France borders Germany.", "France borders Spain.", "France borders Italy.",
            "The area of France is 551695 square kilometres.", "The capital of France is Paris.",
        ], facts);
        var area = RetrievalPrompt.Facts(Graph, Reader.Read("What is the area of France?"), Words, 1000);
        Assert.Equal("The area of France is 551695 square kilometres.", area[0]);
        Assert.Equal(6, area.Count);
    }

    [Fact]
    public void The_budget_is_respected_and_a_fact_too_long_is_skipped_for_shorter_ones()
    {
        var reading = Reader.Read("What is the capital of France?");
        // "- The capital of France is Paris.\n" is 7 words, the area line 9, each "- France borders X.\n" 4; the
        // other facts come in the graph's order (area_km2, borders).
        var facts = RetrievalPrompt.Facts(Graph, reading, Words, 16);
        Assert.Equal(["The capital of France is Paris.", "The area of France is 551695 square kilometres."], facts);
        Assert.True(facts.Sum(f => Words("- " + f + "\n")) <= 16);
        Assert.Equal(["The capital of France is Paris.", "France borders Belgium.", "France borders Germany."], RetrievalPrompt.Facts(Graph, reading, Words, 15));
        Assert.Empty(RetrievalPrompt.Facts(Graph, reading, Words, 3));
        // The asked area line (9) does not fit in 8: it is skipped, and two border lines fill the budget.
        var skip = RetrievalPrompt.Facts(Graph, Reader.Read("What is the area of France?"), Words, 8);
        Assert.Equal(["France borders Belgium.", "France borders Germany."], skip);
    }

    [Fact]
    public void Build_puts_the_facts_before_the_question_in_the_grounded_format()
    {
        string prompt = RetrievalPrompt.Build(Graph, Reader, "What is the capital of Italy?", Words, 100);
        Assert.Equal("Facts:\n- The capital of Italy is Rome.\nQuestion: What is the capital of Italy?\nAnswer:", prompt);
        Assert.Equal("Question: What is the capital of Atlantis?\nAnswer:", RetrievalPrompt.Build(Graph, Reader, "What is the capital of Atlantis?", Words, 100));
    }

    [Fact]
    public void An_ambiguous_subject_brings_every_candidates_facts()
    {
        var facts = RetrievalPrompt.Facts(Graph, Reader.Read("What is the capital of Georgia?"), Words, 1000);
        // The asked relation for both candidates first, then each candidate's other facts (the country's, the state's).
        Assert.Equal(["The capital of Georgia is Tbilisi.", "The capital of Georgia is Atlanta.", "The area of Georgia is 69700 square kilometres.",
            "Georgia became independent in 1991.", "Georgia became independent in 1776."], facts);
    }
}
