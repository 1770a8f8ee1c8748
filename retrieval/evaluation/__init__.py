"""The retrieval quality eval: cases from a repository, our retriever against baselines."""
