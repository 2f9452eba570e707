"""Jenjang's process engine: deploy, run and persist BPMN/DMN with SpiffWorkflow."""
