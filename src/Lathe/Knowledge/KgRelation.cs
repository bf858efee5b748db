namespace Lathe.Knowledge;

/// <summary>A relation the graph knows, with what grounding needs to speak about it.</summary>
/// <param name="Id">The relation's id in triples (<c>capital</c>, <c>borders</c>, <c>atomic_number</c>).</param>
/// <param name="Label">A short human label ("capital").</param>
/// <param name="ObjectKind">What its objects are; the store refuses a triple whose object is of another kind.</param>
/// <param name="Functional">True when a subject has at most one object (a capital), false when many (neighbours).</param>
/// <param name="Statement">How one fact reads as a sentence: <c>{s}</c> is the subject's name, <c>{o}</c> the
/// object's ("The capital of {s} is {o}.").</param>
/// <param name="Questions">Ways to ask for the object given the subject, each with <c>{s}</c>
/// ("What is the capital of {s}?", "Which city is the capital of {s}?").</param>
public sealed record KgRelation(
    string Id, string Label, TermKind ObjectKind, bool Functional, string Statement, IReadOnlyList<string> Questions);
