"""The agent: a tool loop over the provider interface, its tools, and MCP servers as tools."""

from app.agent.loop import (
    AgentDone,
    AgentEvent,
    AgentLimits,
    AgentText,
    StepFinished,
    StepStarted,
    run_agent,
)
from app.agent.tools import FunctionTool, Tool, ToolArgumentError, Toolbox, ToolError

__all__ = [
    "AgentDone",
    "AgentEvent",
    "AgentLimits",
    "AgentText",
    "FunctionTool",
    "StepFinished",
    "StepStarted",
    "Tool",
    "ToolArgumentError",
    "ToolError",
    "Toolbox",
    "run_agent",
]
